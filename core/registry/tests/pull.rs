//! Pulls from Debian's `docker-registry` on loopback (anonymous and basic auth) and from
//! stand-in servers (a registry serving a corrupt blob, a bearer-token registry).

mod common;

use std::collections::HashMap;
use std::path::Path;
use std::time::{Duration, Instant};

use base64::Engine as _;
use common::*;
use hush_engine::ImageSource;
use hush_image::ImageStore;
use hush_registry::{Credentials, Puller, PullingImages, RegistryError};

fn new_store() -> (tempfile::TempDir, ImageStore) {
    let dir = tempfile::tempdir().unwrap();
    let store = ImageStore::open(&dir.path().join("images")).unwrap();
    (dir, store)
}

fn puller() -> Puller {
    Puller::new(common::credentials())
}

/// Checks that `name` resolves to `image`: same manifest digest, layers unpacked with the
/// busybox binary and the marker.
fn assert_stored(store: &ImageStore, name: &str, image: &TestImage, marker: &str) {
    let found = store
        .resolve(name)
        .unwrap()
        .unwrap_or_else(|| panic!("{name} is not in the store"));
    assert_eq!(found.digest.to_string(), image.digest());
    assert_eq!(
        found.manifest.config().digest().to_string(),
        sha256(&image.config)
    );
    let layers = store.rootfs_layers(&found).unwrap();
    assert_eq!(layers.len(), 2);
    let busybox = std::fs::read(layers[0].join("bin/busybox")).unwrap();
    assert_eq!(busybox, std::fs::read("/bin/busybox").unwrap());
    assert_eq!(
        std::fs::read_link(layers[0].join("bin/sh")).unwrap(),
        Path::new("busybox")
    );
    assert_eq!(
        std::fs::read_to_string(layers[1].join("etc/marker")).unwrap(),
        marker
    );
    for (digest, bytes) in image.blobs() {
        let path = store.root().join("blobs/sha256").join(&digest[7..]);
        assert_eq!(sha256(&std::fs::read(path).unwrap()), digest);
        assert_eq!(sha256(&bytes), digest);
    }
}

/// Checks that no error text or debug output contains the password.
fn assert_no_password(texts: &[String]) {
    for text in texts {
        assert!(!text.contains(PASSWORD), "password leaked: {text}");
        let b64 = base64::engine::general_purpose::STANDARD.encode(format!("{USER}:{PASSWORD}"));
        assert!(!text.contains(&b64), "basic credentials leaked: {text}");
    }
}

#[test]
fn anonymous_pull_by_tag_stores_docker_schema2_image() {
    let registry = anonymous_registry();
    let image = busybox_image("anonymous", true);
    push_image(registry, "team/busybox", "1.0", &image);
    let (_dir, store) = new_store();
    let name = format!("{}/team/busybox:1.0", registry.addr);
    let pulled = puller().pull(&store, &name, None).unwrap();
    assert_eq!(pulled.digest.to_string(), image.digest());
    assert_eq!(pulled.name.as_deref(), Some(name.as_str()));
    assert_stored(&store, &name, &image, "anonymous");
    // The manifest is stored byte for byte, so its digest is the registry's.
    let manifest = store.root().join("blobs/sha256").join(&image.digest()[7..]);
    assert_eq!(std::fs::read(manifest).unwrap(), image.manifest);
}

#[test]
fn pull_by_digest_stores_oci_image_untagged() {
    let registry = anonymous_registry();
    let image = busybox_image("by-digest", false);
    push_image(registry, "bydigest", "v1", &image);
    let (_dir, store) = new_store();
    let name = format!("{}/bydigest@{}", registry.addr, image.digest());
    let pulled = puller().pull(&store, &name, None).unwrap();
    assert_eq!(pulled.name, None);
    assert_stored(&store, &name, &image, "by-digest");
    assert!(store
        .resolve(&format!("{}/bydigest:v1", registry.addr))
        .unwrap()
        .is_none());
}

#[test]
fn index_pull_picks_this_hosts_platform() {
    let registry = anonymous_registry();
    let image = busybox_image("this-platform", false);
    let other = busybox_image("other-platform", false);
    push_image(registry, "multi", "other", &other);
    push_image(registry, "multi", "this", &image);
    let index = index_of(&image, &other);
    push_manifest(registry, "multi", "latest", OCI_INDEX, &index);
    let (_dir, store) = new_store();
    let name = format!(
        "localhost:{}/multi",
        registry.addr.rsplit(':').next().unwrap()
    );
    let pulled = puller().pull(&store, &name, None).unwrap();
    assert_eq!(pulled.digest.to_string(), image.digest());
    assert_stored(&store, &name, &image, "this-platform");
}

#[test]
fn unknown_tags_and_repositories_are_not_found() {
    let registry = anonymous_registry();
    push_image(registry, "known", "v1", &busybox_image("known", true));
    let (_dir, store) = new_store();
    for name in ["known:nope", "unknown-repo:v1"] {
        let err = puller()
            .pull(&store, &format!("{}/{name}", registry.addr), None)
            .unwrap_err();
        assert!(matches!(err, RegistryError::NotFound { .. }), "{err:?}");
        let text = err.to_string();
        assert!(
            text.contains(&registry.addr) && text.contains(name),
            "{text}"
        );
    }
    assert!(store.list().unwrap().is_empty());
}

#[test]
fn unreachable_registry_fails_within_seconds() {
    let port = free_port();
    let (_dir, store) = new_store();
    let started = Instant::now();
    let err = puller()
        .pull(&store, &format!("127.0.0.1:{port}/x:1"), None)
        .unwrap_err();
    assert!(
        started.elapsed() < Duration::from_secs(15),
        "{:?}",
        started.elapsed()
    );
    assert!(matches!(err, RegistryError::Unreachable { .. }), "{err:?}");
    let text = err.to_string();
    assert!(text.contains(&format!("127.0.0.1:{port}")), "{text}");
    assert!(text.to_lowercase().contains("refused"), "{text}");
    assert!(text.contains("https failed, then http://"), "{text}");
}

#[test]
fn basic_auth_with_credentials_from_docker_config() {
    let registry = basic_auth_registry();
    let image = busybox_image("docker-config", true);
    push_image(registry, "private", "v1", &image);
    let config = tempfile::tempdir().unwrap();
    let auth = base64::engine::general_purpose::STANDARD.encode(format!("{USER}:{PASSWORD}"));
    std::fs::write(
        config.path().join("config.json"),
        format!(
            r#"{{"auths": {{"http://{}": {{"auth": "{auth}"}}}}}}"#,
            registry.addr
        ),
    )
    .unwrap();
    let (_dir, store) = new_store();
    let name = format!("{}/private:v1", registry.addr);
    let puller = puller().with_docker_config_dir(Some(config.path().to_path_buf()));
    puller.pull(&store, &name, None).unwrap();
    assert_stored(&store, &name, &image, "docker-config");
    assert_no_password(&[format!("{puller:?}")]);
}

#[test]
fn basic_auth_with_explicit_credentials() {
    let registry = basic_auth_registry();
    let image = busybox_image("explicit", false);
    push_image(registry, "private", "explicit", &image);
    let name = format!("{}/private:explicit", registry.addr);
    let credentials = Credentials::new(USER, secret(PASSWORD));
    let (_dir, store) = new_store();
    puller()
        .pull(&store, &name, Some(credentials.clone()))
        .unwrap();
    assert_stored(&store, &name, &image, "explicit");

    // The same, registered for the registry beforehand (the API's with_registry_auth).
    let (_dir, store) = new_store();
    let puller = puller();
    puller
        .set_registry_auth(&registry.addr, credentials.clone())
        .unwrap();
    puller.pull(&store, &name, None).unwrap();
    assert_stored(&store, &name, &image, "explicit");
    assert_no_password(&[format!("{puller:?}"), format!("{credentials:?}")]);
}

#[test]
fn wrong_or_missing_credentials_are_unauthorized_and_never_shown() {
    let registry = basic_auth_registry();
    push_image(registry, "private", "v2", &busybox_image("denied", true));
    let name = format!("{}/private:v2", registry.addr);
    let (_dir, store) = new_store();
    let wrong = format!("{PASSWORD}-but-wrong");
    let err = puller()
        .pull(&store, &name, Some(Credentials::new(USER, secret(&wrong))))
        .unwrap_err();
    assert!(matches!(err, RegistryError::Unauthorized { .. }), "{err:?}");
    assert!(err.to_string().contains(USER), "{err}");
    let missing = puller().pull(&store, &name, None).unwrap_err();
    assert!(
        matches!(missing, RegistryError::Unauthorized { .. }),
        "{missing:?}"
    );
    assert!(
        missing.to_string().contains("none are configured"),
        "{missing}"
    );
    let texts = [
        err.to_string(),
        format!("{err:?}"),
        missing.to_string(),
        format!("{missing:?}"),
    ];
    assert_no_password(&texts);
    for text in texts {
        assert!(!text.contains(&wrong), "{text}");
    }
    assert!(store.list().unwrap().is_empty());
}

#[test]
fn a_corrupt_blob_is_a_digest_mismatch_and_not_stored() {
    let image = busybox_image("corrupt", true);
    let (bad_digest, mut bad) = image.blobs().remove(2);
    bad[40] ^= 0xff;
    let server = stand_in(serve_image(
        &image,
        "corrupt",
        "v1",
        HashMap::from([(bad_digest.clone(), bad)]),
    ));
    let (_dir, store) = new_store();
    let err = puller()
        .pull(&store, &format!("{}/corrupt:v1", server.addr), None)
        .unwrap_err();
    assert!(
        matches!(err, RegistryError::DigestMismatch { .. }),
        "{err:?}"
    );
    assert!(err.to_string().contains(&bad_digest), "{err}");
    assert!(store.list().unwrap().is_empty());
    let blob = store.root().join("blobs/sha256").join(&bad_digest[7..]);
    assert!(!blob.exists());
}

#[test]
fn a_manifest_not_matching_the_requested_digest_is_refused() {
    let image = busybox_image("wrong-manifest", true);
    let other = busybox_image("asked-for", true);
    let handler = serve_image(&image, "m", "v1", HashMap::new());
    let served = image.manifest.clone();
    let server = stand_in(move |request| {
        if request.path.contains("/manifests/sha256:") {
            Reply::new(200, served.clone()).header("Content-Type", DOCKER_MANIFEST)
        } else {
            handler(request)
        }
    });
    let (_dir, store) = new_store();
    let err = puller()
        .pull(
            &store,
            &format!("{}/m@{}", server.addr, other.digest()),
            None,
        )
        .unwrap_err();
    assert!(
        matches!(err, RegistryError::DigestMismatch { .. }),
        "{err:?}"
    );
    assert!(err.to_string().contains(&other.digest()), "{err}");
}

#[test]
fn blobs_already_in_the_store_are_not_downloaded() {
    let image = busybox_image("present", true);
    let server = stand_in(serve_image(&image, "p", "v1", HashMap::new()));
    let (_dir, store) = new_store();
    puller()
        .pull(&store, &format!("{}/p:v1", server.addr), None)
        .unwrap();
    let blob_requests = |server: &StandIn| {
        server
            .paths()
            .iter()
            .filter(|p| p.contains("/blobs/"))
            .count()
    };
    assert_eq!(blob_requests(&server), 3);
    let again = stand_in(serve_image(&image, "q", "v2", HashMap::new()));
    puller()
        .pull(&store, &format!("{}/q:v2", again.addr), None)
        .unwrap();
    assert_eq!(blob_requests(&again), 0, "{:?}", again.paths());
    assert_stored(&store, &format!("{}/q:v2", again.addr), &image, "present");
}

/// A stand-in for a registry with token auth (as Docker Hub has): the token service wants
/// basic credentials, the registry wants the token it issued.
#[test]
fn bearer_token_flow_against_a_stand_in_token_service() {
    const TOKEN: &str = "stand-in-token-4b1f";
    let image = busybox_image("bearer", false);
    let token_service = stand_in(|request| {
        let expected = format!(
            "Basic {}",
            base64::engine::general_purpose::STANDARD.encode(format!("{USER}:{PASSWORD}"))
        );
        if request.headers.get("authorization") == Some(&expected) {
            Reply::new(
                200,
                format!(r#"{{"access_token":"{TOKEN}","expires_in":300}}"#),
            )
        } else {
            Reply::new(401, "{}")
        }
    });
    let serve = serve_image(&image, "tok/app", "v1", HashMap::new());
    let realm = format!("http://{}/token", token_service.addr);
    let registry = stand_in(move |request| {
        if request.headers.get("authorization").map(String::as_str)
            == Some(&format!("Bearer {TOKEN}"))
        {
            serve(request)
        } else {
            Reply::new(
                401,
                r#"{"errors":[{"code":"UNAUTHORIZED","message":"token wanted"}]}"#,
            )
            .header(
                "WWW-Authenticate",
                &format!(
                    r#"Bearer realm="{realm}",service="stand-in",scope="repository:tok/app:pull""#
                ),
            )
        }
    });
    let name = format!("{}/tok/app:v1", registry.addr);
    let (_dir, store) = new_store();
    puller()
        .pull(
            &store,
            &name,
            Some(Credentials::new(USER, secret(PASSWORD))),
        )
        .unwrap();
    assert_stored(&store, &name, &image, "bearer");
    let token_requests = token_service.requests.lock().unwrap().clone();
    assert_eq!(token_requests.len(), 1, "one token serves the whole pull");
    let query = &token_requests[0].path;
    assert!(
        query.contains("service=stand-in") && query.contains("scope=repository%3Atok%2Fapp%3Apull"),
        "{query}"
    );
    assert!(!query.contains(PASSWORD));

    let (_dir, store) = new_store();
    let err = puller()
        .pull(&store, &name, Some(Credentials::new(USER, secret("wrong"))))
        .unwrap_err();
    assert!(matches!(err, RegistryError::Unauthorized { .. }), "{err:?}");
    assert!(err.to_string().contains("token endpoint"), "{err}");
    assert_no_password(&[err.to_string(), format!("{err:?}")]);
    let anonymous = puller().pull(&store, &name, None).unwrap_err();
    assert!(
        matches!(anonymous, RegistryError::Unauthorized { .. }),
        "{anonymous:?}"
    );
}

#[test]
fn docker_hub_references_go_to_the_mirror_first() {
    let registry = anonymous_registry();
    let image = busybox_image("from-mirror", true);
    push_image(registry, "library/busybox", "mirror-test", &image);
    let (_dir, store) = new_store();
    let puller = puller().with_mirror(&registry.base()).unwrap();
    let pulled = puller.pull(&store, "busybox:mirror-test", None).unwrap();
    assert_eq!(pulled.name.as_deref(), Some("busybox:mirror-test"));
    assert_stored(&store, "busybox:mirror-test", &image, "from-mirror");
    assert_stored(
        &store,
        "docker.io/library/busybox:mirror-test",
        &image,
        "from-mirror",
    );
}

#[test]
fn the_engine_source_pulls_missing_images_once() {
    let image = busybox_image("engine", true);
    let server = stand_in(serve_image(&image, "eng", "v1", HashMap::new()));
    let (_dir, store) = new_store();
    let source = PullingImages::new(store, puller());
    let name = format!("{}/eng:v1", server.addr);
    // The engine resolves from async code; the pull must not trip over the runtime.
    let runtime = tokio::runtime::Builder::new_current_thread()
        .build()
        .unwrap();
    let resolved = runtime
        .block_on(async { source.resolve(&name) })
        .unwrap()
        .unwrap();
    assert_eq!(resolved.layers.len(), 2);
    assert!(resolved.layers[0].join("bin/busybox").is_file());
    assert_eq!(resolved.config.env, vec!["PATH=/bin".to_string()]);
    let requests = server.paths().len();
    assert!(source.resolve(&name).unwrap().is_some());
    assert_eq!(
        server.paths().len(),
        requests,
        "the second resolve is local"
    );
    let err = source
        .resolve(&format!("{}/eng:missing", server.addr))
        .unwrap_err();
    assert!(err.to_string().contains("not found"), "{err}");
    let unknown_digest = format!("sha256:{}", "0".repeat(64));
    assert!(source.resolve(&unknown_digest).unwrap().is_none());
}
