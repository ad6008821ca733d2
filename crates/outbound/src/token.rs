//! A minted credential token, kept out of `Debug` output so it never reaches a log by accident.

use std::fmt;

/// A signed JWT ready to be sent upstream. Its `Debug` form is redacted.
#[derive(Clone, PartialEq, Eq)]
pub struct Token(String);

impl Token {
    /// Wraps a freshly signed token.
    pub fn new(token: String) -> Token {
        Token(token)
    }

    /// The token text, for the outgoing header only.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for Token {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Token([redacted])")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn debug_never_shows_the_token() {
        let token = Token::new("eyJhbGciOi.secret-part.sig".into());
        assert_eq!(format!("{token:?}"), "Token([redacted])");
        assert_eq!(token.as_str(), "eyJhbGciOi.secret-part.sig");
    }
}
