//! What an admin does to other users: list them, change a role, disable or enable, delete. None of these may
//! leave the dashboard without an active admin.

use super::{COLUMNS, User, UserError, Users};
use crate::model::Role;
use crate::notice::Notice;
use crate::{db_execute, db_fetch};

impl Users {
    /// Every user, by username.
    pub async fn list(&self) -> Result<Vec<User>, UserError> {
        Ok(db_fetch!(
            &self.db,
            fetch_all,
            User,
            &format!("SELECT {COLUMNS} FROM users ORDER BY lower(username)")
        )?)
    }

    /// Gives user `id` `role`.
    pub async fn set_role(&self, id: i64, role: Role) -> Result<User, UserError> {
        let user = self.get(id).await?;
        if role != Role::Admin {
            self.refuse_if_last_admin(&user).await?;
        }
        db_execute!(
            &self.db,
            "UPDATE users SET role = $1 WHERE id = $2",
            role.as_str(),
            id
        )?;
        self.get(id).await
    }

    /// Disables (or enables) user `id`; disabling ends their sessions at once.
    pub async fn set_disabled(&self, id: i64, disabled: bool) -> Result<User, UserError> {
        let user = self.get(id).await?;
        if disabled {
            self.refuse_if_last_admin(&user).await?;
        }
        db_execute!(
            &self.db,
            "UPDATE users SET disabled = $1, session_version = session_version + 1 WHERE id = $2",
            disabled,
            id
        )?;
        self.get(id).await
    }

    /// Deletes user `id` (and, by the foreign key, their API tokens).
    pub async fn remove(&self, id: i64) -> Result<(), UserError> {
        let user = self.get(id).await?;
        self.refuse_if_last_admin(&user).await?;
        db_execute!(&self.db, "DELETE FROM users WHERE id = $1", id)?;
        Ok(())
    }

    /// Refuses a change that takes `user` away as an admin when they are the last active one.
    pub(super) async fn refuse_if_last_admin(&self, user: &User) -> Result<(), UserError> {
        if user.role() != Role::Admin || user.disabled {
            return Ok(());
        }
        let (admins,) = db_fetch!(
            &self.db,
            fetch_one,
            (i64,),
            "SELECT count(*) FROM users WHERE role = 'admin' AND NOT disabled"
        )?;
        if admins <= 1 {
            return Err(UserError::Refused(Notice::LastAdmin));
        }
        Ok(())
    }
}
