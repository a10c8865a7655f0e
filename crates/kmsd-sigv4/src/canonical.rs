//! The canonical request: URI path normalization and encoding, query sorting
//! and encoding, header trimming/collapsing, signed headers and payload hash.
//! Signing and verification share this one canonicalizer.

use percent_encoding::percent_decode_str;
use sha2::{Digest, Sha256};

/// Hex SHA-256 of the empty string.
pub const EMPTY_SHA256: &str = "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855";
/// Payload hash literal for unsigned bodies.
pub const UNSIGNED_PAYLOAD: &str = "UNSIGNED-PAYLOAD";
/// The only supported algorithm.
pub const ALGORITHM: &str = "AWS4-HMAC-SHA256";

/// The body of a request, for hashing.
#[derive(Debug, Clone, Copy)]
pub enum Payload<'a> {
    /// The whole body; its SHA-256 is computed here.
    Bytes(&'a [u8]),
    /// Hex SHA-256 of the actual body, computed by the caller.
    Sha256Hex(&'a str),
}

/// Splits `s` at every ASCII byte `is_sep` accepts (like `str::split` with a char set, but
/// byte-wise: the separators are ASCII, so every piece is on a character boundary).
pub(crate) fn split_ascii(s: &str, is_sep: fn(u8) -> bool) -> impl Iterator<Item = &str> {
    let mut start = 0;
    let mut pos = 0;
    let mut done = false;
    std::iter::from_fn(move || {
        if done {
            return None;
        }
        let bytes = s.as_bytes();
        while pos < bytes.len() {
            let b = bytes[pos];
            pos += 1;
            if is_sep(b) {
                let piece = s.get(start..pos - 1).unwrap_or_default();
                start = pos;
                return Some(piece);
            }
        }
        done = true;
        Some(s.get(start..).unwrap_or_default())
    })
}

/// A borrowed view of an HTTP request.
#[derive(Debug, Clone, Copy)]
pub struct HttpRequest<'a> {
    /// Method, e.g. `POST`.
    pub method: &'a str,
    /// Raw request target as received/sent: path and optional `?query`.
    pub uri: &'a str,
    /// Header (name, value) pairs in received order, names in any case;
    /// repeated names allowed.
    pub headers: &'a [(&'a str, &'a str)],
    /// The body.
    pub payload: Payload<'a>,
}

impl<'a> HttpRequest<'a> {
    /// The path part of [`HttpRequest::uri`].
    pub fn path(&self) -> &'a str {
        match self.uri.bytes().position(|b| b == b'?') {
            Some(i) => self.uri.get(..i).unwrap_or_default(),
            None => self.uri,
        }
    }

    /// The query part of [`HttpRequest::uri`] (without `?`; empty if none).
    pub fn query(&self) -> &'a str {
        match self.uri.bytes().position(|b| b == b'?') {
            Some(i) => self.uri.get(i + 1..).unwrap_or_default(),
            None => "",
        }
    }

    /// First value of a header (name compared case-insensitively).
    pub fn header(&self, name: &str) -> Option<&'a str> {
        self.headers
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| *v)
    }
}

/// Appends the lower-case hex form of `bytes`.
pub fn push_hex(bytes: &[u8], out: &mut String) {
    const HEX_LOWER: &[u8; 16] = b"0123456789abcdef";
    out.reserve(bytes.len() * 2);
    for &b in bytes {
        out.push(char::from(HEX_LOWER[usize::from(b >> 4)]));
        out.push(char::from(HEX_LOWER[usize::from(b & 0x0f)]));
    }
}

/// Writes the lower-case hex form of `bytes` into `out` (which must hold twice as many
/// bytes; extra input is ignored).
pub fn push_hex_bytes(bytes: &[u8], out: &mut [u8]) {
    const HEX_LOWER: &[u8; 16] = b"0123456789abcdef";
    for (&b, pair) in bytes.iter().zip(out.chunks_exact_mut(2)) {
        pair[0] = HEX_LOWER[usize::from(b >> 4)];
        pair[1] = HEX_LOWER[usize::from(b & 0x0f)];
    }
}

/// Hex SHA-256.
pub fn sha256_hex(data: &[u8]) -> String {
    let mut s = String::with_capacity(64);
    push_hex(&Sha256::digest(data), &mut s);
    s
}

fn is_unreserved(b: u8) -> bool {
    b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.' | b'~')
}

const HEX_UPPER: &[u8; 16] = b"0123456789ABCDEF";

/// RFC 3986 encoding as SigV4 requires: every byte except unreserved
/// characters (and `/` when `keep_slash`) becomes `%XX` (upper-case hex).
pub fn uri_encode(input: &[u8], keep_slash: bool, out: &mut String) {
    for &b in input {
        if is_unreserved(b) || (keep_slash && b == b'/') {
            out.push(char::from(b));
        } else {
            out.push('%');
            out.push(char::from(HEX_UPPER[usize::from(b >> 4)]));
            out.push(char::from(HEX_UPPER[usize::from(b & 0x0f)]));
        }
    }
}

/// Removes `.`/`..` segments (RFC 3986 §5.2.4) and empty segments, keeping a
/// leading and (when segments remain) trailing slash — as botocore does for
/// every service but S3.
pub fn normalize_path(path: &str) -> String {
    if path.is_empty() {
        return "/".to_owned();
    }
    let mut segs: Vec<&str> = Vec::new();
    for s in path.split('/') {
        match s {
            "" | "." => {}
            ".." => {
                segs.pop();
            }
            s => segs.push(s),
        }
    }
    let mut out = String::with_capacity(path.len());
    if path.starts_with('/') {
        out.push('/');
    }
    out.push_str(&segs.join("/"));
    if path.ends_with('/') && !segs.is_empty() {
        out.push('/');
    }
    out
}

/// Writes the canonical URI of a raw path. The raw path is encoded once more
/// (so `%20` on the wire becomes `%2520`), as non-S3 SDKs do.
pub fn write_canonical_uri(path: &str, normalize: bool, out: &mut String) {
    if path.is_empty() || path == "/" {
        out.push('/');
        return;
    }
    if normalize {
        let n = normalize_path(path);
        if n.is_empty() {
            out.push('/');
        } else {
            uri_encode(n.as_bytes(), true, out);
        }
    } else {
        uri_encode(path.as_bytes(), true, out);
    }
}

/// Writes the canonical query string: each parameter percent-decoded then
/// re-encoded (RFC 3986), a missing `=` read as an empty value, sorted by
/// encoded name then value, joined by `&`. With `exclude_signature`, the
/// `X-Amz-Signature` parameter (presigned form) is left out.
pub fn write_canonical_query(query: &str, exclude_signature: bool, out: &mut String) {
    if query.is_empty() {
        return;
    }
    let mut pairs: Vec<(String, String)> = Vec::new();
    for piece in query.split('&') {
        if piece.is_empty() {
            continue;
        }
        let (k, v) = match piece.find('=') {
            Some(i) => (&piece[..i], &piece[i + 1..]),
            None => (piece, ""),
        };
        let kd: Vec<u8> = percent_decode_str(k).collect();
        if exclude_signature && kd == b"X-Amz-Signature" {
            continue;
        }
        let vd: Vec<u8> = percent_decode_str(v).collect();
        let mut ke = String::with_capacity(k.len());
        uri_encode(&kd, false, &mut ke);
        let mut ve = String::with_capacity(v.len());
        uri_encode(&vd, false, &mut ve);
        pairs.push((ke, ve));
    }
    pairs.sort_unstable();
    for (i, (k, v)) in pairs.iter().enumerate() {
        if i > 0 {
            out.push('&');
        }
        out.push_str(k);
        out.push('=');
        out.push_str(v);
    }
}

/// Appends a header value trimmed, with inner runs of whitespace collapsed to
/// one space.
fn push_trimmed(value: &str, out: &mut String) {
    // Fast path: no leading/trailing space, no double space, no tab/CR/LF.
    let mut clean = true;
    let mut prev_space = true;
    for &c in value.as_bytes() {
        match c {
            b'\t' | b'\r' | b'\n' => {
                clean = false;
                break;
            }
            b' ' if prev_space => {
                clean = false;
                break;
            }
            b' ' => prev_space = true,
            _ => prev_space = false,
        }
    }
    if clean && (value.is_empty() || !prev_space) {
        out.push_str(value);
        return;
    }
    let mut first = true;
    for word in value.split([' ', '\t', '\r', '\n']) {
        if word.is_empty() {
            continue;
        }
        if !first {
            out.push(' ');
        }
        out.push_str(word);
        first = false;
    }
}

/// Writes `name:value\n` for each name of `signed_headers` (a `;`-separated
/// list, used in the given order): all request values of that name, trimmed
/// and collapsed, joined by `,`. A signed header absent from the request
/// yields an empty value (and so, normally, a signature mismatch).
pub fn write_canonical_headers(headers: &[(&str, &str)], signed_headers: &str, out: &mut String) {
    for name in split_ascii(signed_headers, |b| b == b';') {
        out.push_str(name);
        out.push(':');
        let mut first = true;
        for (n, v) in headers {
            if n.eq_ignore_ascii_case(name) {
                if !first {
                    out.push(',');
                }
                push_trimmed(v, out);
                first = false;
            }
        }
        out.push('\n');
    }
}

/// The complete canonical request.
pub fn canonical_request(
    req: &HttpRequest<'_>,
    signed_headers: &str,
    payload_hash: &str,
    normalize_path: bool,
    exclude_signature_param: bool,
) -> String {
    let mut out = String::with_capacity(256 + req.uri.len() + 64 * req.headers.len());
    out.push_str(req.method);
    out.push('\n');
    write_canonical_uri(req.path(), normalize_path, &mut out);
    out.push('\n');
    write_canonical_query(req.query(), exclude_signature_param, &mut out);
    out.push('\n');
    write_canonical_headers(req.headers, signed_headers, &mut out);
    out.push('\n');
    out.push_str(signed_headers);
    out.push('\n');
    out.push_str(payload_hash);
    out
}

/// `<date>/<region>/<service>/aws4_request`.
pub fn credential_scope(date: &str, region: &str, service: &str) -> String {
    format!("{date}/{region}/{service}/aws4_request")
}

/// The string to sign: algorithm, timestamp, scope and the hex SHA-256 of
/// the canonical request, separated by `\n`.
pub fn string_to_sign(amz_date: &str, scope: &str, canonical_request: &str) -> String {
    let mut s = String::with_capacity(ALGORITHM.len() + amz_date.len() + scope.len() + 67);
    s.push_str(ALGORITHM);
    s.push('\n');
    s.push_str(amz_date);
    s.push('\n');
    s.push_str(scope);
    s.push('\n');
    push_hex(&Sha256::digest(canonical_request.as_bytes()), &mut s);
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn path_normalization() {
        for (i, o) in [
            ("/", "/"),
            ("//", "/"),
            ("/./", "/"),
            ("/example/..", "/"),
            ("/a/b/../..", "/"),
            ("//example//", "/example/"),
            ("/./example", "/example"),
            ("/a/./b/../c/", "/a/c/"),
            ("/..", "/"),
        ] {
            assert_eq!(normalize_path(i), o, "{i}");
        }
    }

    #[test]
    fn uri_double_encodes() {
        let mut s = String::new();
        write_canonical_uri("/foo%20bar/ሴ", true, &mut s);
        assert_eq!(s, "/foo%2520bar/%E1%88%B4");
    }

    #[test]
    fn query_sorted_and_encoded() {
        let mut s = String::new();
        write_canonical_query("b=2&a=z&a=y&c&%41=x+y&&X-Amz-Signature=1", true, &mut s);
        assert_eq!(s, "A=x%2By&a=y&a=z&b=2&c=");
    }

    proptest::proptest! {
        #[test]
        fn trimming_matches_reference(v in "[ \t\r\na-c]{0,12}") {
            let mut got = String::new();
            write_canonical_headers(&[("h", v.as_str())], "h", &mut got);
            let reference: Vec<&str> = v
                .split([' ', '\t', '\r', '\n'])
                .filter(|w| !w.is_empty())
                .collect();
            proptest::prop_assert_eq!(got, format!("h:{}\n", reference.join(" ")));
        }
    }

    proptest::proptest! {
        #[test]
        fn split_ascii_equals_str_split(s in "[;a-cé]{0,12}") {
            let got: Vec<&str> = split_ascii(&s, |b| b == b';').collect();
            let want: Vec<&str> = s.split(';').collect();
            proptest::prop_assert_eq!(got, want);
        }

        #[test]
        fn path_and_query_split_at_the_first_question_mark(uri in "[/?a-c=&é]{0,12}") {
            let req = HttpRequest { method: "GET", uri: &uri, headers: &[], payload: Payload::Bytes(b"") };
            let (p, q) = uri.split_once('?').unwrap_or((&uri, ""));
            proptest::prop_assert_eq!((req.path(), req.query()), (p, q));
        }
    }

    #[test]
    fn headers_trimmed_joined() {
        let h = [("My-H", "  a   b \t c "), ("host", "h"), ("my-h", "d")];
        let mut s = String::new();
        write_canonical_headers(&h, "host;my-h;absent", &mut s);
        assert_eq!(s, "host:h\nmy-h:a b c,d\nabsent:\n");
    }
}
