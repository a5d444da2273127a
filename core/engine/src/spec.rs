//! The OCI runtime-spec `config.json` of one exec.

use std::path::{Path, PathBuf};

use oci_spec::runtime::{
    Capability, LinuxCapabilities, LinuxPids, Mount, PosixRlimitBuilder, PosixRlimitType, Spec,
};

use crate::proto::{RootfsReq, ShimRequest};

/// Docker's default capability set without `NET_RAW` (no raw sockets; there is no network
/// beyond loopback anyway).
const CAPABILITIES: [Capability; 13] = [
    Capability::Chown,
    Capability::DacOverride,
    Capability::Fsetid,
    Capability::Fowner,
    Capability::Mknod,
    Capability::Setgid,
    Capability::Setuid,
    Capability::Setfcap,
    Capability::Setpcap,
    Capability::NetBindService,
    Capability::SysChroot,
    Capability::Kill,
    Capability::AuditWrite,
];

/// This process's hard limit of `resource` (a container cannot be given more).
fn hard_limit(resource: libc::__rlimit_resource_t) -> u64 {
    let mut limit = libc::rlimit {
        rlim_cur: 0,
        rlim_max: 0,
    };
    // SAFETY: getrlimit fills the struct.
    if unsafe { libc::getrlimit(resource, &mut limit) } != 0 {
        return 1024;
    }
    limit.rlim_max
}

fn bind(destination: &str, source: &Path, options: &[&str]) -> Mount {
    let mut m = Mount::default();
    m.set_destination(PathBuf::from(destination))
        .set_typ(Some("bind".into()))
        .set_source(Some(source.to_path_buf()))
        .set_options(Some(options.iter().map(|o| o.to_string()).collect()));
    m
}

/// The spec for `req`, with `env` (secret variables included) as the process environment.
///
/// Namespaces (pid, ipc, uts, mount, network with loopback only, cgroup), masked and
/// read-only paths and the default mounts follow runc's and Docker's defaults;
/// `noNewPrivileges` is on.
pub(crate) fn build(
    req: &ShimRequest,
    rootfs: &Path,
    env: Vec<String>,
    secret_files: &[PathBuf],
    dir_sources: &[PathBuf],
) -> Spec {
    let mut spec = Spec::default();
    spec.set_hostname(Some("hush".into()));
    if let Some(root) = spec.root_mut() {
        root.set_path(rootfs.to_path_buf())
            .set_readonly(Some(matches!(req.rootfs, RootfsReq::HostRoot)));
    }
    if let Some(process) = spec.process_mut() {
        process
            .set_args(Some(req.args.clone()))
            .set_env(Some(env))
            .set_cwd(PathBuf::from(&req.cwd))
            .set_no_new_privileges(Some(true));
        let user = process.user_mut();
        user.set_uid(req.uid).set_gid(req.gid);
        let caps: std::collections::HashSet<Capability> = CAPABILITIES.into_iter().collect();
        let mut set = LinuxCapabilities::default();
        set.set_bounding(Some(caps.clone()))
            .set_effective(Some(caps.clone()))
            .set_permitted(Some(caps))
            .set_inheritable(None)
            .set_ambient(None);
        process.set_capabilities(Some(set));
        let rlimit = |typ, soft, hard| {
            PosixRlimitBuilder::default()
                .typ(typ)
                .soft(soft)
                .hard(hard)
                .build()
                .expect("every rlimit field is set")
        };
        let nofile_hard = hard_limit(libc::RLIMIT_NOFILE).min(524_288);
        let nofile = rlimit(
            PosixRlimitType::RlimitNofile,
            nofile_hard.min(1024),
            nofile_hard,
        );
        let nproc = hard_limit(libc::RLIMIT_NPROC).min(16_384);
        let nproc = rlimit(PosixRlimitType::RlimitNproc, nproc, nproc);
        process.set_rlimits(Some(vec![nofile, nproc]));
    }
    let mut mounts = spec.mounts().clone().unwrap_or_default();
    for (m, file) in req.secret_mounts.iter().zip(secret_files) {
        let mut options = vec!["rbind", "ro", "nosuid", "nodev"];
        if m.mode & 0o111 == 0 {
            options.push("noexec");
        }
        mounts.push(bind(&m.target, file, &options));
    }
    for (m, dir) in req.dir_mounts.iter().zip(dir_sources) {
        mounts.push(bind(&m.target, dir, &["rbind", "rw", "nosuid", "nodev"]));
    }
    // Sockets: the host socket file itself. `ro` keeps the container from changing the host
    // file's owner, mode or times (chmod, chown, utimes need a writable mount) and does not
    // stop connect(2), which needs only write permission on the socket inode.
    for m in &req.socket_mounts {
        mounts.push(bind(
            &m.target,
            &m.source,
            &["rbind", "ro", "nosuid", "nodev", "noexec"],
        ));
    }
    for m in &req.file_mounts {
        mounts.push(bind(
            &m.target,
            &m.source,
            &["rbind", "ro", "nosuid", "nodev"],
        ));
    }
    for m in &req.cache_mounts {
        let access = if m.readonly { "ro" } else { "rw" };
        mounts.push(bind(
            &m.target,
            &m.source,
            &["rbind", access, "nosuid", "nodev"],
        ));
    }
    for m in &req.tmpfs_mounts {
        let mut options = vec!["nosuid".to_owned(), "nodev".to_owned()];
        if let Some(size) = m.size {
            options.push(format!("size={size}"));
        }
        let mut tmpfs = Mount::default();
        tmpfs
            .set_destination(PathBuf::from(&m.target))
            .set_typ(Some("tmpfs".into()))
            .set_source(Some(PathBuf::from("tmpfs")))
            .set_options(Some(options));
        mounts.push(tmpfs);
    }
    spec.set_mounts(Some(mounts));
    if let Some(linux) = spec.linux_mut() {
        if let Some(resources) = linux.resources_mut() {
            let mut pids = LinuxPids::default();
            pids.set_limit(4096);
            resources.set_pids(Some(pids));
        }
    }
    spec
}
