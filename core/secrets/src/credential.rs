//! [`CredentialSink`]: how the credentials hush itself uses become secrets of the session.
//!
//! A provider's token (`VAULT_TOKEN`, an AppRole `secret_id` and the token its login returns,
//! `OP_CONNECT_TOKEN`, `OP_SERVICE_ACCOUNT_TOKEN`), a registry password or bearer token, a
//! password in a git URL or an SSH private key is no value of the user's chain, but a server
//! (or a proxy) may echo it in an error body, and hush shows that error. So whoever reads a
//! credential registers it here before its first use: it becomes a [`Secret`] of origin
//! [`Origin::Credential`] that the store's observers (the session's scrubber) learn like any
//! resolved secret.

use std::fmt;
use std::sync::{Arc, Mutex};

use crate::secret::{Origin, Secret};
use crate::store::Observer;
use crate::value::SecretBytes;

/// Registers credentials with the observers of one [`crate::SecretStore`]; cheap to clone.
#[derive(Clone)]
pub struct CredentialSink {
    observers: Arc<Mutex<Vec<Observer>>>,
}

impl CredentialSink {
    pub(crate) fn new(observers: Arc<Mutex<Vec<Observer>>>) -> Self {
        Self { observers }
    }

    /// Makes `value` a secret of the session, named `what` (e.g. `VAULT_TOKEN`, never the
    /// value) wherever it is named, before the caller first sends or shows it. Empty values
    /// are ignored.
    pub fn register(&self, what: &str, value: &[u8]) {
        if value.is_empty() {
            return;
        }
        let secret = Secret::new(
            Origin::Credential(what.to_owned()),
            None,
            SecretBytes::new(value),
        );
        let observers = self.observers.lock().unwrap().clone();
        for observer in observers {
            observer(&secret);
        }
    }
}

impl fmt::Debug for CredentialSink {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("CredentialSink")
    }
}
