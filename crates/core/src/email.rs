//! Email addresses as subscribers type them: checked once, on the way in.
//!
//! The accepted form is the one mail actually works with: `local@domain`, a dot-atom local part
//! (letters, digits and ``!#$%&'*+/=?^_`{|}~-``, dots between, not doubled) of at most 64
//! bytes, a domain of at least two DNS labels (letters, digits, hyphens inside, internationalised
//! names as UTF-8 letters), at most 254 bytes in all. Quoted local parts and address literals are
//! refused: no subscriber needs them and they are favourites of header-injection attempts. The
//! domain is kept in lower case; the local part as typed (it may be case-sensitive).

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

/// Why a string is not an email address.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{input:?} is not an email address: {reason}")]
pub struct EmailError {
    /// What was given (cut to 100 characters).
    pub input: String,
    /// What is wrong with it.
    pub reason: &'static str,
}

/// A checked email address.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct EmailAddress(String);

const LOCAL_SPECIALS: &str = "!#$%&'*+/=?^_`{|}~-";

impl EmailAddress {
    /// Parses `s` (surrounding white space is ignored).
    pub fn parse(s: &str) -> Result<Self, EmailError> {
        let err = |reason| EmailError { input: s.chars().take(100).collect(), reason };
        let s = s.trim();
        if s.is_empty() {
            return Err(err("it is empty"));
        }
        if s.len() > 254 {
            return Err(err("it is longer than 254 bytes"));
        }
        let (local, domain) = s.rsplit_once('@').ok_or_else(|| err("it has no @"))?;
        if local.is_empty() || local.len() > 64 {
            return Err(err("the part before @ must be 1 to 64 bytes"));
        }
        if !local.chars().all(|c| c.is_ascii_alphanumeric() || c == '.' || LOCAL_SPECIALS.contains(c)) {
            return Err(err("the part before @ has a character mail does not allow"));
        }
        if local.starts_with('.') || local.ends_with('.') || local.contains("..") {
            return Err(err("the part before @ has a misplaced dot"));
        }
        let domain = domain.to_lowercase();
        let labels: Vec<&str> = domain.split('.').collect();
        if labels.len() < 2 {
            return Err(err("the domain needs a dot, as in example.org"));
        }
        for label in &labels {
            if label.is_empty() || label.len() > 63 {
                return Err(err("a domain label is empty or longer than 63 bytes"));
            }
            if !label.chars().all(|c| c.is_alphanumeric() || c == '-') || label.starts_with('-') || label.ends_with('-') {
                return Err(err("the domain has a character a host name does not allow"));
            }
        }
        if labels.last().is_some_and(|tld| tld.chars().all(|c| c.is_ascii_digit())) {
            return Err(err("the domain ends in a number"));
        }
        Ok(EmailAddress(format!("{local}@{domain}")))
    }

    /// The address.
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The domain, in lower case.
    pub fn domain(&self) -> &str {
        self.0.rsplit_once('@').map(|(_, d)| d).unwrap_or_default()
    }
}

impl FromStr for EmailAddress {
    type Err = EmailError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Self::parse(s)
    }
}

impl TryFrom<String> for EmailAddress {
    type Error = EmailError;

    fn try_from(s: String) -> Result<Self, Self::Error> {
        Self::parse(&s)
    }
}

impl From<EmailAddress> for String {
    fn from(e: EmailAddress) -> String {
        e.0
    }
}

impl fmt::Display for EmailAddress {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn accepts_real_addresses() {
        for ok in ["ada@example.org", "first.last+tag@Sub.Example.CO.uk", "o'neil@example.com", "x@münchen.de"] {
            let e = EmailAddress::parse(ok).unwrap_or_else(|e| panic!("{e}"));
            assert_eq!(e.domain(), ok.rsplit_once('@').unwrap().1.to_lowercase());
        }
        assert_eq!(EmailAddress::parse("  Ada@EXAMPLE.org ").unwrap().as_str(), "Ada@example.org");
    }

    #[test]
    fn refuses_what_mail_or_headers_would_choke_on() {
        for bad in [
            "",
            "plain",
            "@example.org",
            "ada@",
            "ada@localhost",
            "ada@@example.org",
            "a..b@example.org",
            ".a@example.org",
            "ada@example..org",
            "ada@-example.org",
            "ada@example.org\r\nBcc: victim@example.org",
            "\"quoted\"@example.org",
            "ada@[127.0.0.1]",
            "ada@1.2.3.4",
            "a b@example.org",
        ] {
            assert!(EmailAddress::parse(bad).is_err(), "{bad:?} was accepted");
        }
        let long = format!("{}@example.org", "a".repeat(65));
        assert!(EmailAddress::parse(&long).is_err());
    }
}
