//! `Puller::from_env`: the mirror from `HUSH_REGISTRY_MIRROR`, credentials from a Docker
//! credential helper named in `$DOCKER_CONFIG/config.json`. One test in its own binary,
//! since it sets process environment variables.

mod common;

use std::os::unix::fs::PermissionsExt;

use common::*;
use hush_image::ImageStore;
use hush_registry::{Puller, RegistryError};

#[test]
fn from_env_uses_the_mirror_and_docker_credential_helpers() {
    let anonymous = anonymous_registry();
    let private = basic_auth_registry();
    let hub_image = busybox_image("env-mirror", true);
    push_image(anonymous, "library/busybox", "env", &hub_image);
    let private_image = busybox_image("env-helper", false);
    push_image(private, "helped", "v1", &private_image);

    // A credential helper that knows the private registry; it logs its arguments.
    let home = tempfile::tempdir().unwrap();
    let bin = home.path().join("bin");
    std::fs::create_dir(&bin).unwrap();
    let helper = bin.join("docker-credential-hushtest");
    let argv_log = home.path().join("argv.log");
    std::fs::write(
        &helper,
        format!(
            "#!/bin/sh\necho \"$@\" >> {log}\nread server\n\
             if [ \"$server\" = \"{addr}\" ]; then\n\
             printf '{{\"ServerURL\":\"%s\",\"Username\":\"{USER}\",\"Secret\":\"{PASSWORD}\"}}' \"$server\"\n\
             else echo 'credentials not found in native keychain'; exit 1; fi\n",
            log = argv_log.display(),
            addr = private.addr,
        ),
    )
    .unwrap();
    std::fs::set_permissions(&helper, std::fs::Permissions::from_mode(0o755)).unwrap();
    let docker_config = home.path().join("docker");
    std::fs::create_dir(&docker_config).unwrap();
    std::fs::write(
        docker_config.join("config.json"),
        format!(
            r#"{{"credsStore": "not-installed", "credHelpers": {{"{}": "hushtest"}}}}"#,
            private.addr
        ),
    )
    .unwrap();
    let path = std::env::var("PATH").unwrap_or_default();
    std::env::set_var("PATH", format!("{}:{path}", bin.display()));
    std::env::set_var("DOCKER_CONFIG", &docker_config);
    std::env::set_var("HUSH_REGISTRY_MIRROR", anonymous.base());

    let puller = Puller::from_env(common::credentials()).unwrap();
    let store_dir = tempfile::tempdir().unwrap();
    let store = ImageStore::open(&store_dir.path().join("images")).unwrap();

    let pulled = puller.pull(&store, "busybox:env", None).unwrap();
    assert_eq!(pulled.digest.to_string(), hub_image.digest());

    let name = format!("{}/helped:v1", private.addr);
    let pulled = puller.pull(&store, &name, None).unwrap();
    assert_eq!(pulled.digest.to_string(), private_image.digest());
    let argv = std::fs::read_to_string(&argv_log).unwrap();
    assert_eq!(
        argv.trim(),
        "get",
        "the helper gets the server on stdin only"
    );

    // A registry the helper does not know: anonymous, hence refused.
    std::fs::write(
        docker_config.join("config.json"),
        format!(
            r#"{{"credHelpers": {{"{}": "hushtest-missing"}}}}"#,
            private.addr
        ),
    )
    .unwrap();
    let err = puller.pull(&store, &name, None).unwrap_err();
    assert!(matches!(err, RegistryError::Unauthorized { .. }), "{err:?}");

    std::env::set_var("HUSH_REGISTRY_MIRROR", "http://mirror.example");
    let err = Puller::from_env(common::credentials()).unwrap_err();
    assert!(err.to_string().contains("loopback"), "{err}");
}
