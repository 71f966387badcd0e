//! Reading `--ca-file` so that no path can hang the command or fill its
//! memory: `/dev/zero` never ends, a FIFO blocks on open until a writer
//! comes, and a directory is no file at all.

use std::fs::File;
use std::io::Read;
use std::path::Path;

/// Far more than a full system CA bundle (about 220 KB).
pub const MAX_BYTES: u64 = 1 << 20;

/// The PEM bytes, or a message saying what is wrong with the path.
pub fn read(path: &Path) -> Result<Vec<u8>, String> {
    let shown = crate::output::escape(&path.to_string_lossy());
    let cannot = |e: std::io::Error| format!("cannot read --ca-file {shown}: {e}");
    // Decided from metadata (following symlinks), before any open: opening
    // a FIFO for reading would block.
    let meta = std::fs::metadata(path).map_err(cannot)?;
    if !meta.file_type().is_file() {
        return Err(format!(
            "--ca-file {shown} is {}, not a regular file: give a PEM file",
            kind_of(&meta.file_type())
        ));
    }
    if meta.len() > MAX_BYTES {
        return Err(too_large(&shown));
    }
    // The file can still grow (or be swapped) between the check and the
    // read: the read stops one byte past the cap whatever it finds.
    // Room for the file and the byte past it that ends the read, instead
    // of growing the buffer read by read.
    let mut pem = Vec::with_capacity(usize::try_from(meta.len()).unwrap_or(0).saturating_add(1));
    File::open(path)
        .and_then(|file| file.take(MAX_BYTES.saturating_add(1)).read_to_end(&mut pem))
        .map_err(cannot)?;
    if u64::try_from(pem.len()).map_or(true, |len| len > MAX_BYTES) {
        return Err(too_large(&shown));
    }
    Ok(pem)
}

fn too_large(shown: &str) -> String {
    format!(
        "--ca-file {shown} is larger than {} MiB, too large for a bundle of root certificates: give only the roots needed",
        MAX_BYTES >> 20
    )
}

fn kind_of(kind: &std::fs::FileType) -> &'static str {
    use std::os::unix::fs::FileTypeExt;
    if kind.is_dir() {
        "a directory"
    } else if kind.is_fifo() {
        "a FIFO"
    } else if kind.is_socket() {
        "a socket"
    } else if kind.is_char_device() || kind.is_block_device() {
        "a device"
    } else {
        "something else"
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn devices_and_directories_are_refused_without_reading() {
        let zero = read(Path::new("/dev/zero")).unwrap_err();
        assert!(zero.contains("a device"), "{zero}");
        let dir = read(Path::new("/")).unwrap_err();
        assert!(dir.contains("a directory"), "{dir}");
        let missing = read(Path::new("/nonexistent/ca.pem")).unwrap_err();
        assert!(missing.contains("cannot read --ca-file"), "{missing}");
    }
}
