//! Percent-encoding of query values and paths, for links the pages build and for redirects.

/// Percent-encodes everything but unreserved characters and `/`.
pub fn encode(text: &str) -> String {
    text.bytes()
        .map(|byte| match byte {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' | b'/' => {
                (byte as char).to_string()
            }
            _ => format!("%{byte:02X}"),
        })
        .collect()
}

#[cfg(test)]
mod tests {
    #[test]
    fn encodes_query_syntax_and_markup() {
        assert_eq!(super::encode("/a b?c=<d>&"), "/a%20b%3Fc%3D%3Cd%3E%26");
    }
}
