//! The framing and the few messages of the SSH agent protocol (draft-miller-ssh-agent) hush needs.

use std::io::{self, Read, Write};

/// Largest frame accepted in either direction; a larger one closes the connection.
pub(crate) const MAX_FRAME: usize = 256 * 1024;

pub(crate) const AGENT_FAILURE: u8 = 5;
pub(crate) const AGENTC_REQUEST_IDENTITIES: u8 = 11;
pub(crate) const AGENT_IDENTITIES_ANSWER: u8 = 12;
pub(crate) const AGENTC_SIGN_REQUEST: u8 = 13;
pub(crate) const AGENT_SIGN_RESPONSE: u8 = 14;

/// `SSH_AGENT_RSA_SHA2_256` in a sign request's flags.
pub(crate) const RSA_SHA2_256: u32 = 2;
/// `SSH_AGENT_RSA_SHA2_512` in a sign request's flags.
pub(crate) const RSA_SHA2_512: u32 = 4;

/// Reads one frame's payload (message type and body); `None` at a clean end of stream before a frame.
pub(crate) fn read_frame(r: &mut impl Read) -> io::Result<Option<Vec<u8>>> {
    let mut len = [0u8; 4];
    let mut got = 0;
    while got < len.len() {
        match r.read(&mut len[got..]) {
            Ok(0) if got == 0 => return Ok(None),
            Ok(0) => return Err(io::ErrorKind::UnexpectedEof.into()),
            Ok(n) => got += n,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
    let len = u32::from_be_bytes(len) as usize;
    if len == 0 || len > MAX_FRAME {
        return Err(io::Error::new(
            io::ErrorKind::InvalidData,
            format!("agent frame of {len} bytes"),
        ));
    }
    let mut payload = vec![0u8; len];
    r.read_exact(&mut payload)?;
    Ok(Some(payload))
}

/// Writes one frame with `payload` (message type and body).
pub(crate) fn write_frame(w: &mut impl Write, payload: &[u8]) -> io::Result<()> {
    let len =
        u32::try_from(payload.len()).map_err(|_| io::Error::from(io::ErrorKind::InvalidInput))?;
    let mut frame = Vec::with_capacity(4 + payload.len());
    frame.extend_from_slice(&len.to_be_bytes());
    frame.extend_from_slice(payload);
    w.write_all(&frame)?;
    w.flush()
}

/// Appends an SSH `string` (u32 length, bytes).
pub(crate) fn put_string(out: &mut Vec<u8>, bytes: &[u8]) {
    out.extend_from_slice(&(bytes.len() as u32).to_be_bytes());
    out.extend_from_slice(bytes);
}

/// A cursor over a message body.
pub(crate) struct Reader<'a>(pub(crate) &'a [u8]);

impl<'a> Reader<'a> {
    pub(crate) fn u32(&mut self) -> Option<u32> {
        let (head, rest) = self.0.split_first_chunk::<4>()?;
        self.0 = rest;
        Some(u32::from_be_bytes(*head))
    }

    pub(crate) fn string(&mut self) -> Option<&'a [u8]> {
        let len = self.u32()? as usize;
        if len > self.0.len() {
            return None;
        }
        let (s, rest) = self.0.split_at(len);
        self.0 = rest;
        Some(s)
    }
}
