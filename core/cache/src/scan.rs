//! The leak scan: before an exec's filesystem changes are committed to the cache, every path
//! (whole, so a secret holding `/` is found across components), regular file, symlink target
//! and extended attribute in them is searched for the
//! plaintext (and the encoded variants the scrubber knows: base64, hex, percent- and
//! JSON-escaping, trimmed, per line) of every secret the exec could see.

use std::ffi::CString;
use std::fmt;
use std::fs;
use std::io::Read;
use std::os::unix::ffi::OsStrExt;
use std::path::{Path, PathBuf};
use std::time::{Duration, SystemTime};

use hush_scrub::{Added, ScrubStream, Scrubber};

use crate::error::{CacheError, Result};

/// Where in a file the plaintext was found.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum LeakPlace {
    /// The file's contents.
    Contents,
    /// The file's path: its name, or the names of the directories on the way to it.
    Name,
    /// A symlink's target.
    LinkTarget,
    /// The value of an extended attribute.
    Xattr(String),
}

/// A secret found in an exec's filesystem changes. Names the secret and the file, never the
/// value: a path that holds a secret is shown with it scrubbed.
#[derive(Clone, PartialEq, Eq)]
pub struct Leak {
    /// The secret's label (its redacted URI or its name).
    pub secret: String,
    /// The path inside the container, scrubbed of every secret scanned for.
    pub path: String,
    /// Where the plaintext was found.
    pub place: LeakPlace,
    /// The path relative to the scanned root, as it is (never shown).
    relative: PathBuf,
}

impl Leak {
    /// The leaking entry's path relative to the scanned root, unscrubbed: for removing it,
    /// never for showing.
    pub fn relative_path(&self) -> &Path {
        &self.relative
    }
}

impl fmt::Debug for Leak {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Leak")
            .field("secret", &self.secret)
            .field("path", &self.path)
            .field("place", &self.place)
            .finish_non_exhaustive()
    }
}

impl fmt::Display for Leak {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let place = match &self.place {
            LeakPlace::Contents => "contents".to_owned(),
            LeakPlace::Name => "name".to_owned(),
            LeakPlace::LinkTarget => "symlink target".to_owned(),
            LeakPlace::Xattr(name) => format!("extended attribute {name}"),
        };
        write!(
            f,
            "secret {} was written to {} ({place})",
            self.secret, self.path
        )
    }
}

/// Searches directory trees for a set of secrets.
pub struct LeakScanner {
    /// Every secret at once: one pass over the data.
    all: Scrubber,
    /// Each secret alone, to name the one found (only used after a hit).
    each: Vec<(String, Scrubber)>,
}

impl LeakScanner {
    /// A scanner for `secrets`, given as (label, plaintext). Secrets shorter than the
    /// scrubber's minimum length (4 bytes) cannot be told apart from ordinary data and are not
    /// searched for.
    pub fn new<'a>(secrets: impl IntoIterator<Item = (String, &'a [u8])>) -> Self {
        let all = Scrubber::new();
        let mut each = Vec::new();
        for (label, value) in secrets {
            let one = Scrubber::new();
            if one.add_secret(value) == Added::TooShort {
                continue;
            }
            let _ = all.add_secret(value);
            each.push((label, one));
        }
        Self { all, each }
    }

    /// Whether there is nothing to search for.
    pub fn is_empty(&self) -> bool {
        self.each.is_empty()
    }

    /// Scans the tree at `root` (an overlayfs upper directory: paths are reported as in the
    /// container, `root` being `/`). Symlinks are not followed. With `changed_since`, only
    /// entries whose status changed at or after that time are searched (the inode change time,
    /// which, unlike the modification time, no process can set back).
    pub fn scan(&self, root: &Path, changed_since: Option<SystemTime>) -> Result<Vec<Leak>> {
        let mut leaks = Vec::new();
        if self.is_empty() {
            return Ok(leaks);
        }
        // Each directory with its path in the container (`/a/b`, empty for the root), and
        // whether that path already holds a secret (then it is the one reported, not every
        // path below it).
        let mut todo = vec![(root.to_path_buf(), Vec::new(), false)];
        while let Some((dir, inside, path_leaked)) = todo.pop() {
            let context = |inside: &[u8]| format!("scan {}/", self.shown(inside));
            let list = fs::read_dir(&dir).map_err(CacheError::io(context(&inside)))?;
            for entry in list {
                let entry = entry.map_err(CacheError::io(context(&inside)))?;
                let name = entry.file_name();
                let path = entry.path();
                let mut whole = inside.clone();
                whole.push(b'/');
                whole.extend_from_slice(name.as_bytes());
                let shown = self.shown(&whole);
                let meta =
                    fs::symlink_metadata(&path).map_err(CacheError::io(format!("scan {shown}")))?;
                if changed_since.is_some_and(|t| changed_at(&meta) < t) {
                    if meta.is_dir() {
                        todo.push((path.clone(), whole.clone(), path_leaked));
                    }
                    continue;
                }
                // Whether `data` holds a secret; each one it holds is a leak.
                let mut found = |place: LeakPlace, data: &dyn Fn(&Scrubber) -> Result<bool>| {
                    if !data(&self.all)? {
                        return Ok::<_, CacheError>(false);
                    }
                    let mut labels = Vec::new();
                    for (label, one) in &self.each {
                        if data(one)? {
                            labels.push(label.clone());
                        }
                    }
                    // Only found together (e.g. two secrets that overlap): still a leak.
                    if labels.is_empty() {
                        labels.push("one of the exec's secrets".to_owned());
                    }
                    for secret in labels {
                        leaks.push(Leak {
                            secret,
                            path: shown.clone(),
                            place: place.clone(),
                            relative: PathBuf::from(std::ffi::OsStr::from_bytes(&whole[1..])),
                        });
                    }
                    Ok(true)
                };
                let path_leaked = path_leaked
                    || found(LeakPlace::Name, &|s| Ok(!path_leaked && changes(s, &whole)))?;
                if meta.is_dir() {
                    todo.push((path.clone(), whole.clone(), path_leaked));
                }
                if meta.file_type().is_symlink() {
                    let target =
                        fs::read_link(&path).map_err(CacheError::io(format!("scan {shown}")))?;
                    found(LeakPlace::LinkTarget, &|s| {
                        Ok(changes(s, target.as_os_str().as_bytes()))
                    })?;
                } else if meta.is_file() {
                    found(LeakPlace::Contents, &|s| {
                        file_changes(s, &path).map_err(CacheError::io(format!("scan {shown}")))
                    })?;
                }
                for (attr, value) in xattrs(&path) {
                    found(LeakPlace::Xattr(attr), &|s| Ok(changes(s, &value)))?;
                }
            }
        }
        leaks.sort_by(|a, b| (&a.path, &a.secret).cmp(&(&b.path, &b.secret)));
        Ok(leaks)
    }

    /// A container path for messages: lossy UTF-8, every secret scrubbed.
    fn shown(&self, inside: &[u8]) -> String {
        String::from_utf8_lossy(&self.all.scrub(inside)).into_owned()
    }

    /// The labels of the secrets found in `data` (e.g. an image config), sorted.
    pub fn find_in(&self, data: &[u8]) -> Vec<String> {
        if self.is_empty() || !changes(&self.all, data) {
            return Vec::new();
        }
        let mut found: Vec<String> = self
            .each
            .iter()
            .filter(|(_, one)| changes(one, data))
            .map(|(label, _)| label.clone())
            .collect();
        found.sort();
        found
    }
}

/// The inode change time of `meta`.
fn changed_at(meta: &fs::Metadata) -> SystemTime {
    use std::os::unix::fs::MetadataExt;
    let (secs, nanos) = (meta.ctime(), meta.ctime_nsec());
    let since_epoch = Duration::new(secs.unsigned_abs(), nanos.clamp(0, 999_999_999) as u32);
    if secs >= 0 {
        SystemTime::UNIX_EPOCH + since_epoch
    } else {
        SystemTime::UNIX_EPOCH - since_epoch
    }
}

/// Compares a scrubber's output with its input as it streams: any difference is a secret.
struct Detector {
    stream: ScrubStream,
    pending: Vec<u8>,
    out: Vec<u8>,
    hit: bool,
}

impl Detector {
    fn new(scrubber: &Scrubber) -> Self {
        Self {
            stream: scrubber.stream(),
            pending: Vec::new(),
            out: Vec::new(),
            hit: false,
        }
    }

    fn write(&mut self, data: &[u8]) {
        if self.hit {
            return;
        }
        self.pending.extend_from_slice(data);
        self.stream.write(data, &mut self.out);
        self.compare();
    }

    /// Output that matches the input so far is dropped; the scrubber only ever releases
    /// input bytes unchanged or replaces a secret.
    fn compare(&mut self) {
        let n = self.out.len();
        if n > self.pending.len() || self.out[..] != self.pending[..n] {
            self.hit = true;
        }
        self.pending.drain(..n.min(self.pending.len()));
        self.out.clear();
    }

    fn finish(mut self) -> bool {
        if !self.hit {
            self.stream.finish(&mut self.out);
            self.compare();
            self.hit |= !self.pending.is_empty();
        }
        self.hit
    }
}

fn changes(scrubber: &Scrubber, data: &[u8]) -> bool {
    let mut d = Detector::new(scrubber);
    d.write(data);
    d.finish()
}

fn file_changes(scrubber: &Scrubber, path: &Path) -> std::io::Result<bool> {
    let mut file = fs::File::open(path)?;
    let mut d = Detector::new(scrubber);
    let mut buf = vec![0u8; 256 << 10];
    loop {
        let n = file.read(&mut buf)?;
        if n == 0 || d.hit {
            break;
        }
        d.write(&buf[..n]);
    }
    Ok(d.finish())
}

/// The extended attributes of `path` (not following symlinks), names and values; unreadable
/// ones are skipped.
fn xattrs(path: &Path) -> Vec<(String, Vec<u8>)> {
    let Ok(c) = CString::new(path.as_os_str().as_bytes()) else {
        return Vec::new();
    };
    // SAFETY: a valid C string; a null buffer of length 0 asks for the size.
    let size = unsafe { libc::llistxattr(c.as_ptr(), std::ptr::null_mut(), 0) };
    if size <= 0 {
        return Vec::new();
    }
    let mut names = vec![0u8; size as usize];
    // SAFETY: the buffer has the given length.
    let size = unsafe { libc::llistxattr(c.as_ptr(), names.as_mut_ptr().cast(), names.len()) };
    if size <= 0 {
        return Vec::new();
    }
    names.truncate(size as usize);
    let mut out = Vec::new();
    for name in names.split(|&b| b == 0).filter(|n| !n.is_empty()) {
        let Ok(cname) = CString::new(name) else {
            continue;
        };
        // SAFETY: valid C strings; a null buffer of length 0 asks for the size.
        let len = unsafe { libc::lgetxattr(c.as_ptr(), cname.as_ptr(), std::ptr::null_mut(), 0) };
        if len < 0 {
            continue;
        }
        let mut value = vec![0u8; len as usize];
        // SAFETY: the buffer has the given length.
        let len = unsafe {
            libc::lgetxattr(
                c.as_ptr(),
                cname.as_ptr(),
                value.as_mut_ptr().cast(),
                value.len(),
            )
        };
        if len < 0 {
            continue;
        }
        value.truncate(len as usize);
        out.push((String::from_utf8_lossy(name).into_owned(), value));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::fs::symlink;

    const TOKEN: &[u8] = b"leak-scan-token-7QpZ";

    #[test]
    fn finds_contents_names_link_targets_and_encodings() {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path();
        fs::create_dir_all(root.join("app/deep")).unwrap();
        fs::write(root.join("app/plain"), b"nothing to see here").unwrap();
        let mut big = vec![b'x'; 600 << 10];
        big.extend_from_slice(TOKEN);
        big.extend_from_slice(b"tail");
        fs::write(root.join("app/deep/big"), &big).unwrap();
        fs::write(
            root.join("app/b64"),
            b"dG9rZW4=bGVhay1zY2FuLXRva2VuLTdRcFo=\n",
        )
        .unwrap();
        fs::write(root.join("app/end"), TOKEN).unwrap();
        fs::write(
            root.join(String::from_utf8(TOKEN.to_vec()).unwrap()),
            b"name",
        )
        .unwrap();
        symlink(
            format!("/x/{}", String::from_utf8_lossy(TOKEN)),
            root.join("link"),
        )
        .unwrap();
        let scanner = LeakScanner::new([
            ("env://TOKEN".to_owned(), TOKEN),
            ("other".to_owned(), &b"not-present-anywhere"[..]),
        ]);
        let leaks = scanner.scan(root, None).unwrap();
        let shown: Vec<String> = leaks.iter().map(|l| l.to_string()).collect();
        assert_eq!(
            shown,
            [
                "secret env://TOKEN was written to /*** (name)",
                "secret env://TOKEN was written to /app/b64 (contents)",
                "secret env://TOKEN was written to /app/deep/big (contents)",
                "secret env://TOKEN was written to /app/end (contents)",
                "secret env://TOKEN was written to /link (symlink target)",
            ]
        );
    }

    #[test]
    fn changed_since_skips_older_entries_even_with_a_forged_mtime() {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path();
        fs::create_dir(root.join("old")).unwrap();
        fs::write(root.join("old/kept"), TOKEN).unwrap();
        std::thread::sleep(Duration::from_millis(50));
        let since = SystemTime::now();
        std::thread::sleep(Duration::from_millis(50));
        fs::write(root.join("old/new"), TOKEN).unwrap();
        // Setting the modification time back does not hide a change.
        let f = fs::File::options()
            .write(true)
            .open(root.join("old/new"))
            .unwrap();
        f.set_modified(SystemTime::UNIX_EPOCH).unwrap();
        let scanner = LeakScanner::new([("s".to_owned(), TOKEN)]);
        let paths = |since| -> Vec<String> {
            let leaks = scanner.scan(root, since).unwrap();
            leaks.into_iter().map(|l| l.path).collect()
        };
        assert_eq!(paths(Some(since)), ["/old/new"]);
        assert_eq!(paths(None), ["/old/kept", "/old/new"]);
    }

    #[test]
    fn clean_trees_and_prefixes_are_not_leaks() {
        let dir = tempfile::tempdir().unwrap();
        fs::write(dir.path().join("a"), &TOKEN[..TOKEN.len() - 1]).unwrap();
        fs::write(dir.path().join("b"), b"").unwrap();
        let scanner = LeakScanner::new([("t".to_owned(), TOKEN)]);
        assert!(scanner.scan(dir.path(), None).unwrap().is_empty());
        assert!(LeakScanner::new([])
            .scan(dir.path(), None)
            .unwrap()
            .is_empty());
    }

    #[test]
    fn finds_secrets_in_bytes_by_label() {
        let scanner = LeakScanner::new([
            ("b".to_owned(), TOKEN),
            ("a".to_owned(), &b"second-secret-value"[..]),
            ("c".to_owned(), &b"absent-secret-value"[..]),
        ]);
        let config = br#"{"Env":["X=leak-scan-token-7QpZ","Y=c2Vjb25kLXNlY3JldC12YWx1ZQ=="]}"#;
        assert_eq!(scanner.find_in(config), ["a", "b"]);
        assert!(scanner.find_in(b"{\"Env\":[]}").is_empty());
    }

    /// A secret holding `/`, as the scan sees it: split over directory names.
    const SLASHED: &str = "abc123def/ghi456jkl";

    fn shown(leaks: &[Leak]) -> Vec<String> {
        leaks.iter().map(|l| l.to_string()).collect()
    }

    #[test]
    fn a_secret_across_path_components_is_found_and_never_shown() {
        use base64::Engine as _;
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path();
        fs::create_dir_all(root.join("opt").join(SLASHED).join("deeper")).unwrap();
        fs::write(root.join("opt").join(SLASHED).join("deeper/f"), b"x").unwrap();
        // Its base64 (which holds `/` for this value) as a path.
        let value = b"\xfb\xff\xbfsecret-b64-path";
        let encoded = base64::engine::general_purpose::STANDARD.encode(value);
        assert!(encoded.contains('/'), "{encoded}");
        fs::create_dir_all(root.join("b64").join(&encoded)).unwrap();
        symlink(format!("/x/{SLASHED}"), root.join("link")).unwrap();
        let secrets: [(String, &[u8]); 2] = [
            ("env://TOK".to_owned(), SLASHED.as_bytes()),
            ("env://BIN".to_owned(), value),
        ];
        let leaks = LeakScanner::new(secrets.clone()).scan(root, None).unwrap();
        // One leak per place: the directory the value first appears in, not every path below.
        assert_eq!(
            shown(&leaks),
            [
                "secret env://BIN was written to /b64/*** (name)",
                "secret env://TOK was written to /link (symlink target)",
                "secret env://TOK was written to /opt/*** (name)",
            ]
        );
        assert_eq!(
            leaks[2].relative_path(),
            Path::new("opt/abc123def/ghi456jkl")
        );
        for leak in &leaks {
            let debug = format!("{leak:?}");
            assert!(
                !debug.contains("ghi456") && !debug.contains(&encoded),
                "{debug}"
            );
        }
        // Control: the same tree holds nothing else the scan would report.
        let parts = LeakScanner::new([("part".to_owned(), &b"never-there"[..])]);
        assert!(parts.scan(root, None).unwrap().is_empty());
    }

    #[test]
    fn a_path_leak_under_an_old_directory_is_found_with_changed_since() {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path();
        fs::create_dir(root.join("abc123def")).unwrap();
        std::thread::sleep(Duration::from_millis(50));
        let since = SystemTime::now();
        std::thread::sleep(Duration::from_millis(50));
        fs::write(root.join("abc123def/ghi456jkl"), b"").unwrap();
        let scanner = LeakScanner::new([("t".to_owned(), SLASHED.as_bytes())]);
        let leaks = scanner.scan(root, Some(since)).unwrap();
        assert_eq!(shown(&leaks), ["secret t was written to /*** (name)"]);
    }
}
