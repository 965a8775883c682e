//! Unix socket paths are limited to 107 bytes (`sun_path`), and a run folder under a long
//! home directory with a long profile name passes that. Such a socket is reached through
//! its folder opened as a file descriptor, `/proc/self/fd/N/control.sock`, which names the
//! same file in a few bytes.
use std::fs::File;
use std::os::fd::AsRawFd;
use std::path::{Path, PathBuf};

/// The longest path `bind` and `connect` take, without the terminating NUL.
const SUN_PATH_MAX: usize = 107;

/// Calls `f` with `path`, or with a short alias of it when `path` is too long to bind or
/// connect to; the alias holds only while `f` runs.
pub fn with_socket_path<T>(
    path: &Path,
    f: impl FnOnce(&Path) -> std::io::Result<T>,
) -> std::io::Result<T> {
    if path.as_os_str().len() <= SUN_PATH_MAX {
        return f(path);
    }
    let (Some(dir), Some(name)) = (path.parent(), path.file_name()) else {
        return f(path);
    };
    let folder = File::open(dir)?;
    let alias = PathBuf::from(format!("/proc/self/fd/{}", folder.as_raw_fd())).join(name);
    let result = f(&alias);
    drop(folder);
    result
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::{Read, Write};
    use std::os::unix::net::{UnixListener, UnixStream};

    #[test]
    fn a_socket_deeper_than_sun_path_binds_and_connects() {
        let tmp = tempfile::tempdir().unwrap();
        let deep = tmp.path().join("a".repeat(60)).join("b".repeat(60));
        std::fs::create_dir_all(&deep).unwrap();
        let path = deep.join("control.sock");
        assert!(path.as_os_str().len() > SUN_PATH_MAX);
        // The plain call fails: that is what the alias is for.
        assert!(UnixListener::bind(&path).is_err());
        let listener = with_socket_path(&path, |p| UnixListener::bind(p)).unwrap();
        // The socket file is where it was asked for, not under /proc.
        assert!(path.exists());
        let mut client = with_socket_path(&path, |p| UnixStream::connect(p)).unwrap();
        let (mut served, _) = listener.accept().unwrap();
        client.write_all(b"hi").unwrap();
        let mut got = [0u8; 2];
        served.read_exact(&mut got).unwrap();
        assert_eq!(&got, b"hi");
    }

    #[test]
    fn a_short_path_is_used_as_it_is() {
        let seen = with_socket_path(Path::new("/tmp/x.sock"), |p| Ok(p.to_path_buf())).unwrap();
        assert_eq!(seen, Path::new("/tmp/x.sock"));
    }
}
