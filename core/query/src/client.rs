//! A client of the core: one session, one engine, and the objects handed out by id.

use std::collections::{BTreeMap, HashMap};
use std::sync::{Arc, Mutex};

use hush_api::query::{Input, Output, Selection};
use hush_api::Api;
use hush_cache::Cache;
use hush_engine::{CacheVolume, Container, Directory, Engine, File, PersistentCache};
use hush_image::ImageStore;
use hush_registry::{Credentials, Puller, PullingImages};
use hush_secrets::{HomeError, MacKey, Secret};
use hush_session::Session;

use crate::error::QueryError;

/// A value met while walking a chain.
#[derive(Clone, Debug)]
pub enum Object {
    /// The root.
    Query,
    /// The host running hush.
    Host,
    /// A container.
    Container(Container),
    /// A directory.
    Directory(Directory),
    /// A file.
    File(File),
    /// A secret.
    Secret(Secret),
    /// A cache volume.
    CacheVolume(CacheVolume),
}

impl Object {
    /// The API type name.
    pub fn type_name(&self) -> &'static str {
        match self {
            Self::Query => "Query",
            Self::Host => "Host",
            Self::Container(_) => "Container",
            Self::Directory(_) => "Directory",
            Self::File(_) => "File",
            Self::Secret(_) => "Secret",
            Self::CacheVolume(_) => "CacheVolume",
        }
    }
}

/// Evaluates query chains for one session.
pub struct Client {
    session: Arc<Session>,
    engine: Engine,
    images: Arc<PullingImages>,
    empty_dir: std::path::PathBuf,
    objects: Mutex<HashMap<String, Object>>,
}

impl Client {
    /// A client over `session`, with the local image store under the session's home.
    pub fn new(session: Arc<Session>) -> Result<Self, QueryError> {
        let home = session.home()?;
        let store = ImageStore::open(&home.join("images"))?;
        let puller = Puller::from_env(session.store().credentials())?
            .with_console(session.console().clone());
        let images = Arc::new(PullingImages::new(store, puller));
        let engine = Engine::with_images(
            session.scrubber().clone(),
            images.clone(),
            home.join("engine"),
            persistent_cache(&session)?,
        )?;
        let empty_dir = home.join("empty");
        hush_secrets::ensure_private_dir(&empty_dir).map_err(|source| {
            QueryError::Engine(hush_engine::EngineError::Io {
                context: format!("create {}", empty_dir.display()),
                source,
            })
        })?;
        Ok(Self {
            session,
            engine,
            images,
            empty_dir,
            objects: Mutex::new(HashMap::new()),
        })
    }

    /// The session.
    pub fn session(&self) -> &Arc<Session> {
        &self.session
    }

    /// The engine.
    pub fn engine(&self) -> &Engine {
        &self.engine
    }

    /// Evaluates a chain. A chain that ends on an object returns the object's id, which later
    /// chains can pass as `{"id": ...}`. Strings are scrubbed, except sensitive fields.
    pub async fn evaluate(&self, chain: &[Selection]) -> Result<Output, QueryError> {
        self.evaluate_from(Object::Query, chain).await
    }

    /// Evaluates a chain starting at `root` (e.g. an object looked up by [`Client::object`]).
    /// Every secret the chain names is resolved first, so that whatever it shows, errors
    /// included, is scrubbed of all of them.
    pub async fn evaluate_from(
        &self,
        root: Object,
        chain: &[Selection],
    ) -> Result<Output, QueryError> {
        crate::prefetch::secrets(self, chain, matches!(root, Object::Query)).await?;
        match crate::evaluate::walk(self, root, chain).await? {
            crate::evaluate::Value::Object(object) => Ok(self.hand_out(object)),
            crate::evaluate::Value::Output(output) => Ok(output),
        }
    }

    /// The object with this id.
    pub fn object(&self, id: &str) -> Result<Object, QueryError> {
        self.objects
            .lock()
            .unwrap()
            .get(id)
            .cloned()
            .ok_or_else(|| QueryError::Invalid(format!("no object has id {id:?}")))
    }

    /// Registers an object and returns its id and type.
    pub fn hand_out(&self, object: Object) -> Output {
        let mut objects = self.objects.lock().unwrap();
        let id = format!(
            "{}:{}",
            object.type_name().to_lowercase(),
            objects.len() + 1
        );
        let ty = object.type_name().to_owned();
        objects.insert(id.clone(), object);
        Output::Object { ty, id }
    }

    /// Makes a secret by value (kept out of chains so the plaintext crosses once).
    pub fn set_secret(&self, name: &str, plaintext: &[u8]) -> Result<Output, QueryError> {
        let secret = self.session.set_secret(name, plaintext)?;
        Ok(self.hand_out(Object::Secret(secret)))
    }

    /// Uses `username` and `secret` for pulls from `address` for the rest of the session.
    pub fn set_registry_auth(
        &self,
        address: &str,
        username: &str,
        secret: Secret,
    ) -> Result<(), QueryError> {
        let credentials = Credentials::new(username, secret);
        Ok(self
            .images
            .puller()
            .set_registry_auth(address, credentials)?)
    }

    /// The local image store.
    pub(crate) fn store(&self) -> &ImageStore {
        self.images.store()
    }

    /// An empty directory (host directories are only read, so it stays empty).
    pub(crate) fn empty_dir(&self) -> &std::path::Path {
        &self.empty_dir
    }

    /// The API description the client follows.
    pub fn api(&self) -> &'static Api {
        Api::get()
    }
}

/// The persistent cache in `<hush home>/cache`, keyed with the session's MAC key. If it cannot
/// be used, execs still run (uncached) and a warning says why; a corrupt index it replaced is
/// reported as a warning too. A home hush must not trust is an error.
pub fn persistent_cache(session: &Session) -> Result<Option<PersistentCache>, HomeError> {
    let warnings = session.warnings().clone();
    let home = session.home()?;
    let opened = Cache::open(&home.join("cache"))
        .map_err(|e| e.to_string())
        .and_then(|cache| {
            let mac = MacKey::load_or_create(home).map_err(|e| e.to_string())?;
            Ok((cache, mac))
        });
    Ok(match opened {
        Ok((cache, mac)) => {
            if let Some(recovery) = cache.recovered() {
                warnings(&recovery.to_string());
            }
            Some(PersistentCache::new(
                Arc::new(cache),
                Arc::new(mac),
                warnings,
            ))
        }
        Err(e) => {
            warnings(&format!("the cache is not used: {e}"));
            None
        }
    })
}

/// Arguments of one selection, with defaults filled in from the description.
pub(crate) type Args = BTreeMap<String, Input>;
