//! The messages the account forms show after a submission. The server redirects with `?error=<code>` or
//! `?done=<code>` and the page looks the message up here, so no text from the URL is ever shown.

/// One message of the account forms.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Notice {
    /// Login failed.
    WrongCredentials,
    /// Too many attempts (login, sign-up, password change, deletion).
    RateLimited,
    /// Username or email taken.
    Taken,
    /// Username length.
    UsernameLength,
    /// Username characters.
    UsernameCharacters,
    /// Email malformed.
    EmailInvalid,
    /// Password too short.
    PasswordShort,
    /// Password too long.
    PasswordLong,
    /// Confirmation differs.
    PasswordMismatch,
    /// Current password wrong.
    CurrentPasswordWrong,
    /// New password equals the current one.
    PasswordUnchanged,
    /// Theme not light/dark.
    ThemeInvalid,
    /// Units not km/mi.
    UnitsInvalid,
    /// The account was deleted meanwhile.
    Gone,
    /// Something failed on the server.
    ServerError,
    /// Password changed.
    PasswordChanged,
    /// Profile saved.
    ProfileSaved,
    /// Account deleted.
    AccountDeleted,
    /// Signed out.
    SignedOut,
    /// The account is disabled; signing in is refused.
    AccountDisabled,
    /// Sign-up needs an invitation.
    SignupClosed,
    /// The invitation is unknown, used or expired.
    InviteInvalid,
    /// Not one of the roles.
    RoleInvalid,
    /// The change would leave no admin.
    LastAdmin,
    /// Role changed.
    RoleChanged,
    /// User disabled.
    UserDisabled,
    /// User enabled.
    UserEnabled,
    /// User deleted.
    UserDeleted,
    /// User created.
    UserCreated,
    /// API token revoked.
    TokenRevoked,
    /// A name is needed.
    NameInvalid,
    /// The revocation did not reach Kafka.
    RevocationFailed,
    /// Device credential revoked.
    DeviceRevoked,
}

const ALL: [Notice; 33] = [
    Notice::WrongCredentials,
    Notice::RateLimited,
    Notice::Taken,
    Notice::UsernameLength,
    Notice::UsernameCharacters,
    Notice::EmailInvalid,
    Notice::PasswordShort,
    Notice::PasswordLong,
    Notice::PasswordMismatch,
    Notice::CurrentPasswordWrong,
    Notice::PasswordUnchanged,
    Notice::ThemeInvalid,
    Notice::UnitsInvalid,
    Notice::Gone,
    Notice::ServerError,
    Notice::PasswordChanged,
    Notice::ProfileSaved,
    Notice::AccountDeleted,
    Notice::SignedOut,
    Notice::AccountDisabled,
    Notice::SignupClosed,
    Notice::InviteInvalid,
    Notice::RoleInvalid,
    Notice::LastAdmin,
    Notice::RoleChanged,
    Notice::UserDisabled,
    Notice::UserEnabled,
    Notice::UserDeleted,
    Notice::UserCreated,
    Notice::TokenRevoked,
    Notice::NameInvalid,
    Notice::RevocationFailed,
    Notice::DeviceRevoked,
];

impl Notice {
    /// The code in the URL.
    pub fn code(self) -> &'static str {
        match self {
            Self::WrongCredentials => "credentials",
            Self::RateLimited => "rate_limited",
            Self::Taken => "taken",
            Self::UsernameLength => "username_length",
            Self::UsernameCharacters => "username_characters",
            Self::EmailInvalid => "email",
            Self::PasswordShort => "password_short",
            Self::PasswordLong => "password_long",
            Self::PasswordMismatch => "password_mismatch",
            Self::CurrentPasswordWrong => "current_password",
            Self::PasswordUnchanged => "password_unchanged",
            Self::ThemeInvalid => "theme",
            Self::UnitsInvalid => "units",
            Self::Gone => "gone",
            Self::ServerError => "server",
            Self::PasswordChanged => "password_changed",
            Self::ProfileSaved => "profile_saved",
            Self::AccountDeleted => "account_deleted",
            Self::SignedOut => "signed_out",
            Self::AccountDisabled => "account_disabled",
            Self::SignupClosed => "signup_closed",
            Self::InviteInvalid => "invite_invalid",
            Self::RoleInvalid => "role",
            Self::LastAdmin => "last_admin",
            Self::RoleChanged => "role_changed",
            Self::UserDisabled => "user_disabled",
            Self::UserEnabled => "user_enabled",
            Self::UserDeleted => "user_deleted",
            Self::UserCreated => "user_created",
            Self::TokenRevoked => "token_revoked",
            Self::NameInvalid => "name",
            Self::RevocationFailed => "revocation_failed",
            Self::DeviceRevoked => "device_revoked",
        }
    }

    /// The notice of a code, if it is one.
    pub fn from_code(code: &str) -> Option<Self> {
        ALL.into_iter().find(|notice| notice.code() == code)
    }

    /// What the user reads.
    pub fn message(self) -> &'static str {
        match self {
            Self::WrongCredentials => "Wrong username/email or password.",
            Self::RateLimited => "Too many attempts. Wait a minute and try again.",
            Self::Taken => "That username or email is already registered.",
            Self::UsernameLength => "The username must have 3 to 64 characters.",
            Self::UsernameCharacters => "The username must not contain @ or control characters.",
            Self::EmailInvalid => "The email address is not valid.",
            Self::PasswordShort => "The password must have at least 8 characters.",
            Self::PasswordLong => "The password must have at most 1024 characters.",
            Self::PasswordMismatch => "The two passwords differ.",
            Self::CurrentPasswordWrong => "The current password is wrong.",
            Self::PasswordUnchanged => "The new password must differ from the current one.",
            Self::ThemeInvalid => "Theme must be light or dark.",
            Self::UnitsInvalid => "Units must be km or mi.",
            Self::Gone => "This account no longer exists.",
            Self::ServerError => "Something went wrong on the server; it has been logged. Try again.",
            Self::PasswordChanged => "Password changed. Other sessions were signed out.",
            Self::ProfileSaved => "Profile saved.",
            Self::AccountDeleted => "Your account was deleted.",
            Self::SignedOut => "You are signed out.",
            Self::AccountDisabled => "The account is disabled. Ask an administrator.",
            Self::SignupClosed => "Sign-up needs an invitation from an administrator.",
            Self::InviteInvalid => "This invitation is unknown, already used or expired. Ask for a new one.",
            Self::RoleInvalid => "The role must be admin, dispatcher or viewer.",
            Self::LastAdmin => "That would leave no active admin: make another user admin first.",
            Self::RoleChanged => "Role changed.",
            Self::UserDisabled => "User disabled: their sessions and API tokens stopped working.",
            Self::UserEnabled => "User enabled.",
            Self::UserDeleted => "User deleted.",
            Self::UserCreated => "User created.",
            Self::TokenRevoked => "API token revoked.",
            Self::NameInvalid => "Give it a name of 1 to 64 characters.",
            Self::RevocationFailed => {
                "The revocation could not be delivered to Kafka, so nothing changed: try again."
            }
            Self::DeviceRevoked => "Device credential revoked: Venus refuses it and closed its connections.",
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_code_maps_back_to_its_notice() {
        for notice in ALL {
            assert_eq!(Notice::from_code(notice.code()), Some(notice));
        }
        assert_eq!(Notice::from_code("<script>"), None);
    }
}
