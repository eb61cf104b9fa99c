//! The PLAIN message (RFC 4616): `[authzid] NUL authcid NUL passwd`.

/// A parsed PLAIN message.
#[derive(PartialEq, Eq)]
pub struct Plain {
    pub user: String,
    pub password: String,
}

impl std::fmt::Debug for Plain {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Plain")
            .field("user", &self.user)
            .field("password", &"***")
            .finish()
    }
}

/// Why a PLAIN message was refused.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum PlainError {
    #[error("malformed PLAIN message: expected [authzid] NUL user NUL password")]
    Malformed,
    #[error("PLAIN message is not UTF-8")]
    NotUtf8,
    #[error("PLAIN message has an empty user name")]
    EmptyUser,
    #[error("PLAIN message has an empty password")]
    EmptyPassword,
    #[error("the authorization id {authzid:?} is not the user {user:?}")]
    Authzid { authzid: String, user: String },
}

/// Parses a PLAIN message. As in Kafka, an authorization id, if given, must be
/// the user itself, and neither user nor password may be empty.
pub fn parse(msg: &[u8]) -> Result<Plain, PlainError> {
    let msg = std::str::from_utf8(msg).map_err(|_| PlainError::NotUtf8)?;
    let mut parts = msg.split('\0');
    let (Some(authzid), Some(user), Some(password), None) =
        (parts.next(), parts.next(), parts.next(), parts.next())
    else {
        return Err(PlainError::Malformed);
    };
    if user.is_empty() {
        return Err(PlainError::EmptyUser);
    }
    if password.is_empty() {
        return Err(PlainError::EmptyPassword);
    }
    if !authzid.is_empty() && authzid != user {
        return Err(PlainError::Authzid {
            authzid: authzid.to_owned(),
            user: user.to_owned(),
        });
    }
    Ok(Plain {
        user: user.to_owned(),
        password: password.to_owned(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_with_and_without_authzid() {
        let want = Plain {
            user: "alice".into(),
            password: "pw:with\u{e9}".into(),
        };
        assert_eq!(parse("\0alice\0pw:with\u{e9}".as_bytes()).unwrap(), want);
        assert_eq!(
            parse("alice\0alice\0pw:with\u{e9}".as_bytes()).unwrap(),
            want
        );
    }

    #[test]
    fn refuses_empty_fields_other_authzid_and_bad_shapes() {
        assert_eq!(parse(b"\0\0pw"), Err(PlainError::EmptyUser));
        assert_eq!(parse(b"\0alice\0"), Err(PlainError::EmptyPassword));
        assert!(matches!(
            parse(b"bob\0alice\0pw"),
            Err(PlainError::Authzid { .. })
        ));
        assert_eq!(parse(b""), Err(PlainError::Malformed));
        assert_eq!(parse(b"alice\0pw"), Err(PlainError::Malformed));
        assert_eq!(parse(b"\0alice\0pw\0x"), Err(PlainError::Malformed));
        assert_eq!(parse(b"\0al\xffice\0pw"), Err(PlainError::NotUtf8));
    }
}
