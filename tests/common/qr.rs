//! Reads QR codes back the way a camera would: from a bitmap, from the
//! half-block drawing a terminal shows, or from a PBM image.

/// Decodes the one QR code in a bitmap (`dark(x, y)`), scaled up 4 times
/// and framed in `frame_dark` so only the image's own quiet zone counts.
pub fn decode(
    width: usize,
    height: usize,
    frame_dark: bool,
    dark: impl Fn(usize, usize) -> bool,
) -> String {
    const SCALE: usize = 4;
    const FRAME: usize = 4;
    let (w, h) = (width + 2 * FRAME, height + 2 * FRAME);
    let mut image = rqrr::PreparedImage::prepare_from_bitmap(w * SCALE, h * SCALE, |x, y| {
        let (x, y) = (x / SCALE, y / SCALE);
        match (x.checked_sub(FRAME), y.checked_sub(FRAME)) {
            (Some(x), Some(y)) if x < width && y < height => dark(x, y),
            _ => frame_dark,
        }
    });
    let grids = image.detect_grids();
    assert_eq!(grids.len(), 1, "one QR code in the image");
    grids[0].decode().expect("the QR code decodes").1
}

/// Decodes the QR code drawn in half blocks somewhere in terminal output:
/// the lines holding U+2580, U+2584 or U+2588, escape sequences removed.
/// Light is what the foreground draws; the terminal around it is taken as
/// dark, the worst a theme can be.
pub fn decode_terminal(output: &str) -> String {
    let rows: Vec<Vec<char>> = output
        .lines()
        .filter(|l| l.contains(['\u{2580}', '\u{2584}', '\u{2588}']))
        .map(|l| strip_escapes(l).trim_end_matches('\r').chars().collect())
        .collect();
    assert!(!rows.is_empty(), "no half blocks in {output:?}");
    let width = rows[0].len();
    let lit = |x: usize, y: usize| {
        let c = rows[y / 2].get(x).copied().unwrap_or(' ');
        match (c, y % 2) {
            ('\u{2588}', _) | ('\u{2580}', 0) | ('\u{2584}', 1) => true,
            (' ' | '\u{2580}' | '\u{2584}', _) => false,
            (other, _) => panic!("unexpected {other:?} in the drawing"),
        }
    };
    decode(width, rows.len() * 2, true, |x, y| !lit(x, y))
}

/// Decodes a P1 (plain) or P4 (raw) PBM image; 1 is black.
pub fn decode_pbm(bytes: &[u8]) -> String {
    let mut fields = Vec::new();
    let mut at = 0;
    // Magic, width, height: whitespace-separated, comments from '#' to the line end.
    while fields.len() < 3 {
        while bytes[at].is_ascii_whitespace() {
            at += 1;
        }
        if bytes[at] == b'#' {
            while bytes[at] != b'\n' {
                at += 1;
            }
            continue;
        }
        let start = at;
        while !bytes[at].is_ascii_whitespace() {
            at += 1;
        }
        fields.push(String::from_utf8(bytes[start..at].to_vec()).unwrap());
    }
    let (width, height): (usize, usize) = (fields[1].parse().unwrap(), fields[2].parse().unwrap());
    let pixels: Vec<bool> = match fields[0].as_str() {
        "P1" => bytes[at..]
            .iter()
            .filter(|b| matches!(b, b'0' | b'1'))
            .map(|b| *b == b'1')
            .collect(),
        "P4" => {
            let row_bytes = width.div_ceil(8);
            let data = &bytes[at + 1..];
            assert_eq!(data.len(), row_bytes * height, "P4 size");
            (0..height)
                .flat_map(|y| (0..width).map(move |x| (x, y)))
                .map(|(x, y)| data[y * row_bytes + x / 8] & (0x80 >> (x % 8)) != 0)
                .collect()
        }
        other => panic!("not a PBM: {other}"),
    };
    assert_eq!(pixels.len(), width * height, "PBM size");
    decode(width, height, false, |x, y| pixels[y * width + x])
}

fn strip_escapes(line: &str) -> String {
    let mut out = String::new();
    let mut chars = line.chars();
    while let Some(c) = chars.next() {
        if c == '\x1b' {
            // CSI: ESC [ parameters, ended by a letter.
            for c in chars.by_ref() {
                if c.is_ascii_alphabetic() {
                    break;
                }
            }
        } else {
            out.push(c);
        }
    }
    out
}
