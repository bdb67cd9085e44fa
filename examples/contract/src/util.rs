//! Small self-contained helpers: randomness, base64url, JWT pieces, URL
//! encoding and RFC 3339 checking.

use serde_json::Value;

/// `n` random bytes as lowercase hex (2n characters).
pub(crate) fn random_hex(n: usize) -> String {
    let mut buf = vec![0u8; n];
    getrandom::fill(&mut buf).expect("the OS random source must be available");
    hex::encode(buf)
}

/// A fresh email address that no other run has used: `u-<16 hex>@example.com`.
pub(crate) fn unique_email() -> String {
    format!("u-{}@example.com", random_hex(8))
}

/// A fresh marker to put in post titles and search for: `m<16 hex>`.
pub(crate) fn unique_marker() -> String {
    format!("m{}", random_hex(8))
}

const B64URL: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";

/// Base64url without padding, as used by JWT.
pub(crate) fn b64url_encode(data: &[u8]) -> String {
    let mut out = String::with_capacity(data.len().div_ceil(3) * 4);
    for chunk in data.chunks(3) {
        let b = [
            chunk[0],
            chunk.get(1).copied().unwrap_or(0),
            chunk.get(2).copied().unwrap_or(0),
        ];
        let n = (u32::from(b[0]) << 16) | (u32::from(b[1]) << 8) | u32::from(b[2]);
        let symbols = chunk.len() + 1;
        for i in 0..symbols {
            let index = (n >> (18 - 6 * i)) & 0x3f;
            out.push(char::from(B64URL[index as usize]));
        }
    }
    out
}

/// Decodes base64url, with or without padding.
pub(crate) fn b64url_decode(text: &str) -> Result<Vec<u8>, String> {
    let text = text.trim_end_matches('=');
    let mut out = Vec::with_capacity(text.len() * 3 / 4);
    let mut acc: u32 = 0;
    let mut bits = 0u32;
    for c in text.bytes() {
        let v = match c {
            b'A'..=b'Z' => c - b'A',
            b'a'..=b'z' => c - b'a' + 26,
            b'0'..=b'9' => c - b'0' + 52,
            b'-' | b'+' => 62,
            b'_' | b'/' => 63,
            _ => return Err(format!("invalid base64url character {:?}", char::from(c))),
        };
        acc = (acc << 6) | u32::from(v);
        bits += 6;
        if bits >= 8 {
            bits -= 8;
            out.push(((acc >> bits) & 0xff) as u8);
        }
    }
    Ok(out)
}

/// The three dot-separated segments of a compact JWT.
pub(crate) struct JwtParts {
    /// The header segment as sent.
    pub header_b64: String,
    /// The payload segment as sent.
    pub payload_b64: String,
    /// The signature segment as sent.
    pub signature_b64: String,
    /// The decoded header.
    pub header: Value,
    /// The decoded payload.
    pub payload: Value,
}

/// Splits and decodes a compact JWT (without verifying it).
pub(crate) fn jwt_parts(token: &str) -> Result<JwtParts, String> {
    let segments: Vec<&str> = token.split('.').collect();
    ensure!(
        segments.len() == 3,
        "access_token is not a compact JWT with 3 segments: {token:?}"
    );
    let decode = |segment: &str, what: &str| -> Result<Value, String> {
        let bytes = b64url_decode(segment).map_err(|e| format!("JWT {what}: {e}"))?;
        serde_json::from_slice(&bytes).map_err(|e| format!("JWT {what} is not JSON: {e}"))
    };
    Ok(JwtParts {
        header: decode(segments[0], "header")?,
        payload: decode(segments[1], "payload")?,
        header_b64: segments[0].to_owned(),
        payload_b64: segments[1].to_owned(),
        signature_b64: segments[2].to_owned(),
    })
}

/// Encodes a JSON value as a base64url JWT segment.
pub(crate) fn jwt_segment(value: &Value) -> String {
    b64url_encode(value.to_string().as_bytes())
}

/// Percent-encodes everything but RFC 3986 unreserved characters; suitable
/// for query values and `application/x-www-form-urlencoded` bodies.
pub(crate) fn urlencode(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for b in text.bytes() {
        if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.' | b'~') {
            out.push(char::from(b));
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

/// An `application/x-www-form-urlencoded` body from name/value pairs.
pub(crate) fn form_body(pairs: &[(&str, &str)]) -> Vec<u8> {
    pairs
        .iter()
        .map(|(k, v)| format!("{}={}", urlencode(k), urlencode(v)))
        .collect::<Vec<_>>()
        .join("&")
        .into_bytes()
}

/// Whether `text` is an RFC 3339 date-time with a time-zone offset, e.g.
/// `2024-05-01T12:34:56.789Z` or `2024-05-01T12:34:56+00:00`.
pub(crate) fn is_rfc3339(text: &str) -> bool {
    let b = text.as_bytes();
    if b.len() < 20 {
        return false;
    }
    let num = |from: usize, to: usize| -> Option<u32> {
        let part = text.get(from..to)?;
        if part.bytes().all(|c| c.is_ascii_digit()) {
            part.parse().ok()
        } else {
            None
        }
    };
    let (Some(_year), Some(month), Some(day), Some(hour), Some(minute), Some(second)) = (
        num(0, 4),
        num(5, 7),
        num(8, 10),
        num(11, 13),
        num(14, 16),
        num(17, 19),
    ) else {
        return false;
    };
    if b[4] != b'-' || b[7] != b'-' || !matches!(b[10], b'T' | b't' | b' ') {
        return false;
    }
    if b[13] != b':' || b[16] != b':' {
        return false;
    }
    if !(1..=12).contains(&month) || !(1..=31).contains(&day) {
        return false;
    }
    if hour > 23 || minute > 59 || second > 60 {
        return false;
    }
    let mut i = 19;
    if b.get(i) == Some(&b'.') {
        i += 1;
        let start = i;
        while b.get(i).is_some_and(u8::is_ascii_digit) {
            i += 1;
        }
        if i == start {
            return false;
        }
    }
    let zone = &text[i..];
    if zone == "Z" || zone == "z" {
        return true;
    }
    let z = zone.as_bytes();
    z.len() == 6
        && matches!(z[0], b'+' | b'-')
        && z[1].is_ascii_digit()
        && z[2].is_ascii_digit()
        && z[3] == b':'
        && z[4].is_ascii_digit()
        && z[5].is_ascii_digit()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn base64url_round_trips() {
        for len in 0..40 {
            let data: Vec<u8> = (0..len).map(|i| (i * 37 + 11) as u8).collect();
            let encoded = b64url_encode(&data);
            assert!(!encoded.contains('='));
            assert_eq!(b64url_decode(&encoded).expect("decodes"), data);
        }
        assert_eq!(b64url_encode(b"{\"alg\":\"none\"}"), "eyJhbGciOiJub25lIn0");
    }

    #[test]
    fn rfc3339_accepts_and_rejects() {
        assert!(is_rfc3339("2024-05-01T12:34:56Z"));
        assert!(is_rfc3339("2024-05-01T12:34:56.123456+00:00"));
        assert!(is_rfc3339("2024-05-01 12:34:56-05:30"));
        assert!(!is_rfc3339("2024-05-01T12:34:56"));
        assert!(!is_rfc3339("2024-05-01T12:34:56.Z"));
        assert!(!is_rfc3339("2024-13-01T12:34:56Z"));
        assert!(!is_rfc3339("not a date at all, really"));
    }

    #[test]
    fn urlencode_escapes_reserved() {
        assert_eq!(urlencode("a b&c=d/é"), "a%20b%26c%3Dd%2F%C3%A9");
        assert_eq!(
            form_body(&[("username", "x@y"), ("password", "p w")]),
            b"username=x%40y&password=p%20w".to_vec()
        );
    }
}
