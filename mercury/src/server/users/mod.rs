//! The dashboard's users, in an embedded SQLite database: sign-up, login check, profile and password changes,
//! deletion. Passwords are stored as argon2id hashes; hashing runs on the blocking pool (it takes ~50 ms of CPU
//! on purpose).

use super::db::{Db, DbError};
use crate::model::{Role, UserRow, UserView};
use crate::notice::Notice;
use crate::{db_execute, db_fetch};

mod admin;
mod rules;

use rules::{hash_password, valid_email, valid_password, valid_username, verify_password};

/// Why a user operation was refused or failed. The messages are shown to the user as they are.
#[derive(Debug, thiserror::Error)]
pub enum UserError {
    /// A field does not meet its rule, the login is wrong, the name is taken… (what the form shows).
    #[error("{}", .0.message())]
    Refused(Notice),
    /// The database failed.
    #[error("user database: {0}")]
    Database(#[from] sqlx::Error),
    /// Opening or migrating the database failed.
    #[error("user database: {0}")]
    Open(#[from] DbError),
    /// Hashing failed.
    #[error("password hashing: {0}")]
    Hash(String),
}

/// A stored user.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct User {
    /// Database id (may be handed out again after a deletion: nothing outside the database names it).
    pub id: i64,
    /// Random id that session tokens carry, never reused.
    pub uid: String,
    /// `admin`, `dispatcher` or `viewer` (see [`User::role`]).
    #[sqlx(rename = "role")]
    pub role_name: String,
    /// A disabled user cannot sign in and their sessions and tokens stop working.
    pub disabled: bool,
    /// Unique, case-insensitive.
    pub username: String,
    /// Unique, case-insensitive.
    pub email: String,
    /// argon2id PHC string.
    pub password_hash: String,
    /// Set while the default admin password is in use.
    pub must_change_password: bool,
    /// `light` or `dark`.
    pub theme: String,
    /// `km` or `mi`.
    pub units: String,
    /// Part of the session token: bumping it revokes the user's tokens.
    pub session_version: i64,
}

impl UserError {
    /// The notice the form shows: the refusal itself, or a generic server error (logged here).
    pub fn notice(&self) -> Notice {
        match self {
            Self::Refused(notice) => *notice,
            other => {
                tracing::error!(error = %other, "user operation failed");
                Notice::ServerError
            }
        }
    }
}

impl User {
    /// What the user may do (a name the database does not allow reads as the lowest role).
    pub fn role(&self) -> Role {
        Role::parse(&self.role_name).unwrap_or(Role::Viewer)
    }

    /// The admin page's row.
    pub fn row(&self) -> UserRow {
        UserRow {
            id: self.id,
            username: self.username.clone(),
            email: self.email.clone(),
            role: self.role(),
            disabled: self.disabled,
        }
    }

    /// What pages may see.
    pub fn view(&self) -> UserView {
        UserView {
            id: self.id,
            role: self.role(),
            username: self.username.clone(),
            email: self.email.clone(),
            must_change_password: self.must_change_password,
            theme: self.theme.clone(),
            units: self.units.clone(),
        }
    }
}

/// Profile fields a user can change.
#[derive(Debug, Clone)]
pub struct Profile {
    /// New username.
    pub username: String,
    /// New email.
    pub email: String,
    /// `light` or `dark`.
    pub theme: String,
    /// `km` or `mi`.
    pub units: String,
}

/// The user store.
#[derive(Clone)]
pub struct Users {
    db: Db,
    /// Verified against when a login names nobody, so both cases take the same time.
    dummy_hash: String,
}

pub(crate) const COLUMNS: &str = "id, uid, role, disabled, username, email, password_hash, must_change_password, \
                                  theme, units, session_version";

/// Matches a login (username or email) without regard to case; `$1` is the login.
const BY_LOGIN: &str = "lower(username) = lower($1) OR lower(email) = lower($1)";

impl Users {
    /// Opens and migrates the account database `location` names (see [`Db::open`]).
    pub async fn open(location: &str) -> Result<Self, UserError> {
        let db = Db::open(location).await?;
        let dummy_hash = hash_password("not a real password".to_owned()).await?;
        Ok(Self { db, dummy_hash })
    }

    /// The database, shared by the other stores of the account database (API tokens, invitations, devices,
    /// tracking links).
    pub fn db(&self) -> Db {
        self.db.clone()
    }

    /// Whether there is no user yet (the first start).
    pub async fn is_empty(&self) -> Result<bool, UserError> {
        let (count,) = db_fetch!(&self.db, fetch_one, (i64,), "SELECT count(*) FROM users")?;
        Ok(count == 0)
    }

    /// Creates `admin` / `admin@example.com` with `password` when there are no users at all, flagged so the UI
    /// asks for a new password. Returns whether it did.
    pub async fn ensure_default_admin(&self, password: &str) -> Result<bool, UserError> {
        if !self.is_empty().await? {
            return Ok(false);
        }
        let user = self
            .create("admin", "admin@example.com", password, Role::Admin)
            .await?;
        db_execute!(
            &self.db,
            "UPDATE users SET must_change_password = TRUE WHERE id = $1",
            user.id
        )?;
        Ok(true)
    }

    /// Creates a user with `role`. A taken username or email is refused before the password is hashed, so a
    /// refusal costs no hashing time.
    pub async fn create(
        &self,
        username: &str,
        email: &str,
        password: &str,
        role: Role,
    ) -> Result<User, UserError> {
        let username = valid_username(username)?;
        let email = valid_email(email)?;
        valid_password(password)?;
        let taken = db_fetch!(
            &self.db,
            fetch_optional,
            (i64,),
            "SELECT id FROM users WHERE lower(username) = lower($1) OR lower(email) = lower($2)",
            username,
            email
        )?;
        if taken.is_some() {
            return Err(UserError::Refused(Notice::Taken));
        }
        let hash = hash_password(password.to_owned()).await?;
        let (id,) = db_fetch!(
            &self.db,
            fetch_one,
            (i64,),
            "INSERT INTO users (uid, role, username, email, password_hash, created_at_ms) \
             VALUES ($1, $2, $3, $4, $5, $6) RETURNING id",
            uuid::Uuid::new_v4().simple().to_string(),
            role.as_str(),
            username,
            email,
            hash,
            chrono::Utc::now().timestamp_millis()
        )
        .map_err(unique_violation_is_taken)?;
        self.get(id).await
    }

    /// The user with this id.
    pub async fn get(&self, id: i64) -> Result<User, UserError> {
        db_fetch!(
            &self.db,
            fetch_optional,
            User,
            &format!("SELECT {COLUMNS} FROM users WHERE id = $1"),
            id
        )?
        .ok_or(UserError::Refused(Notice::Gone))
    }

    /// The user a session token names by its random id; `None` for an unknown one (a deleted user).
    pub async fn by_uid(&self, uid: &str) -> Result<Option<User>, UserError> {
        Ok(db_fetch!(
            &self.db,
            fetch_optional,
            User,
            &format!("SELECT {COLUMNS} FROM users WHERE uid = $1"),
            uid
        )?)
    }

    /// What login attempts are counted against: the account a login names (by username or email alike), or
    /// the login text itself when it names nobody.
    pub async fn account_key(&self, login: &str) -> Result<String, UserError> {
        let id = db_fetch!(
            &self.db,
            fetch_optional,
            (i64,),
            &format!("SELECT id FROM users WHERE {BY_LOGIN}"),
            login.trim()
        )?;
        Ok(match id {
            Some((id,)) => format!("user:{id}"),
            None => format!("login:{}", login.trim().to_lowercase()),
        })
    }

    /// Checks a login (username or email, any case) and password.
    pub async fn authenticate(&self, login: &str, password: &str) -> Result<User, UserError> {
        let user = db_fetch!(
            &self.db,
            fetch_optional,
            User,
            &format!("SELECT {COLUMNS} FROM users WHERE {BY_LOGIN}"),
            login.trim()
        )?;
        let hash = user
            .as_ref()
            .map_or(self.dummy_hash.clone(), |user| user.password_hash.clone());
        let matches = verify_password(password.to_owned(), hash).await?;
        match user {
            // Said only to whoever knows the password: it reveals nothing to a guesser.
            Some(user) if matches && user.disabled => Err(UserError::Refused(Notice::AccountDisabled)),
            Some(user) if matches => Ok(user),
            _ => Err(UserError::Refused(Notice::WrongCredentials)),
        }
    }

    /// Changes the password after checking the current one; revokes the user's other sessions.
    pub async fn change_password(&self, id: i64, current: &str, new: &str) -> Result<User, UserError> {
        let user = self.get(id).await?;
        if !verify_password(current.to_owned(), user.password_hash.clone()).await? {
            return Err(UserError::Refused(Notice::CurrentPasswordWrong));
        }
        valid_password(new)?;
        if new == current {
            return Err(UserError::Refused(Notice::PasswordUnchanged));
        }
        let hash = hash_password(new.to_owned()).await?;
        db_execute!(
            &self.db,
            "UPDATE users SET password_hash = $1, must_change_password = FALSE, \
             session_version = session_version + 1 WHERE id = $2",
            hash,
            id
        )?;
        self.get(id).await
    }

    /// Changes username, email, theme and units.
    pub async fn update_profile(&self, id: i64, profile: &Profile) -> Result<User, UserError> {
        let username = valid_username(&profile.username)?;
        let email = valid_email(&profile.email)?;
        let theme = match profile.theme.as_str() {
            "light" | "dark" => profile.theme.as_str(),
            _ => return Err(UserError::Refused(Notice::ThemeInvalid)),
        };
        let units = match profile.units.as_str() {
            "km" | "mi" => profile.units.as_str(),
            _ => return Err(UserError::Refused(Notice::UnitsInvalid)),
        };
        db_execute!(
            &self.db,
            "UPDATE users SET username = $1, email = $2, theme = $3, units = $4 WHERE id = $5",
            username,
            email,
            theme,
            units,
            id
        )
        .map_err(unique_violation_is_taken)?;
        self.get(id).await
    }

    /// Ends every session of the user (logout).
    pub async fn revoke_sessions(&self, id: i64) -> Result<(), UserError> {
        db_execute!(
            &self.db,
            "UPDATE users SET session_version = session_version + 1 WHERE id = $1",
            id
        )?;
        Ok(())
    }

    /// Deletes the account after checking its password (not the last active admin's).
    pub async fn delete(&self, id: i64, password: &str) -> Result<(), UserError> {
        let user = self.get(id).await?;
        if !verify_password(password.to_owned(), user.password_hash.clone()).await? {
            return Err(UserError::Refused(Notice::CurrentPasswordWrong));
        }
        self.refuse_if_last_admin(&user).await?;
        db_execute!(&self.db, "DELETE FROM users WHERE id = $1", id)?;
        Ok(())
    }
}

fn unique_violation_is_taken(error: sqlx::Error) -> UserError {
    match &error {
        sqlx::Error::Database(db) if db.is_unique_violation() => UserError::Refused(Notice::Taken),
        _ => UserError::Database(error),
    }
}
