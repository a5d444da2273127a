//! Modules and the session protocol: `hush init`, `hush functions`, `hush call`, and the
//! hidden `hush __session` that plain SDK scripts start.
//!
//! The CLI owns the session. A module process (or an SDK script) never resolves a secret
//! itself: it talks to the session over a private socketpair it inherited (see
//! [`protocol`]); secret arguments reach it as handles, values cross only when it asks for
//! `plaintext` or hands one in with `set_secret`, and every secret it creates is known to the
//! session's scrubber before `set_secret` returns, so everything it prints afterwards is
//! scrubbed.

pub mod call;
pub mod describe;
pub mod init;
pub mod protocol;
pub mod server;
