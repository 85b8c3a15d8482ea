//! Bearer tokens in a type that will not show them: `Debug` and `Display` print a
//! placeholder and there is no `Serialize`. The one way out is [`Token::expose`], for a
//! request header, the keyring or the server's hash. Client and server share it, so a token
//! reaches no log on either side.

use std::fmt;

/// A bearer token.
#[derive(Clone, PartialEq, Eq)]
pub struct Token(String);

impl Token {
    /// Wraps a token (from a header, the keyring, `FERRY_TOKEN`, a sign-in answer or
    /// standard input), without surrounding whitespace.
    pub fn new(token: impl Into<String>) -> Self {
        Self(token.into().trim().to_owned())
    }

    /// The secret itself, for an `Authorization` header or the keyring; never for logs.
    pub fn expose(&self) -> &str {
        &self.0
    }

    /// Whether there is nothing in it.
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
}

impl fmt::Debug for Token {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Token(<redacted>)")
    }
}

impl fmt::Display for Token {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("<redacted token>")
    }
}

/// A compile-time check that [`Token`] does not implement `serde::Serialize` (the trick of
/// `static_assertions::assert_not_impl_any!`, which is not in the dependency tree): were it
/// to, `_` below would have two candidates and the crate would stop compiling with "type
/// annotations needed". Deserialising a token is fine; writing one into a file is not.
const _: fn() = || {
    trait AmbiguousIfSerialize<A> {
        fn check() {}
    }
    impl<T: ?Sized> AmbiguousIfSerialize<()> for T {}
    struct IsSerialize;
    impl<T: ?Sized + serde::Serialize> AmbiguousIfSerialize<IsSerialize> for T {}
    <Token as AmbiguousIfSerialize<_>>::check();
};

#[cfg(test)]
mod tests {
    use super::Token;

    #[test]
    fn neither_debug_nor_display_shows_the_secret() {
        let token = Token::new(" fry_0123456789abcdef \n");
        assert_eq!(
            token.expose(),
            "fry_0123456789abcdef",
            "surrounding whitespace is not part of it"
        );
        let shown = format!("{token} {token:?} {:?}", Some(&token));
        assert!(!shown.contains("0123456789"), "{shown}");
    }
}
