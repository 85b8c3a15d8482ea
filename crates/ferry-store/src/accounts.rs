//! Accounts: a server URL and a user name. Never a secret: tokens live in the OS keyring.

use rusqlite::{OptionalExtension, params};

use crate::{Journal, StoreError, now_ms};

/// An account's row id.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct AccountId(pub i64);

/// A server and the user Ferry signs in as there (empty for servers without sign-in).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Account {
    /// The row id.
    pub id: AccountId,
    /// The server URL as the user gave it.
    pub server_url: String,
    /// The user name, or empty.
    pub user: String,
}

impl Journal {
    /// The account for `server_url` and `user`, created if new.
    pub fn account(&self, server_url: &str, user: &str) -> Result<Account, StoreError> {
        self.conn.execute(
            "INSERT INTO accounts (server_url, user, created_at) VALUES (?1, ?2, ?3)
             ON CONFLICT (server_url, user) DO NOTHING",
            params![server_url, user, now_ms()],
        )?;
        let id = self.conn.query_row(
            "SELECT id FROM accounts WHERE server_url = ?1 AND user = ?2",
            params![server_url, user],
            |r| r.get(0),
        )?;
        Ok(Account {
            id: AccountId(id),
            server_url: server_url.to_owned(),
            user: user.to_owned(),
        })
    }

    /// The account with row id `id`.
    pub fn account_by_id(&self, id: AccountId) -> Result<Option<Account>, StoreError> {
        Ok(self
            .conn
            .query_row(
                "SELECT server_url, user FROM accounts WHERE id = ?1",
                [id.0],
                |r| {
                    Ok(Account {
                        id,
                        server_url: r.get(0)?,
                        user: r.get(1)?,
                    })
                },
            )
            .optional()?)
    }

    /// Every account, oldest first.
    pub fn accounts(&self) -> Result<Vec<Account>, StoreError> {
        let mut stmt = self
            .conn
            .prepare("SELECT id, server_url, user FROM accounts ORDER BY id")?;
        let rows = stmt
            .query_map([], |r| {
                Ok(Account {
                    id: AccountId(r.get(0)?),
                    server_url: r.get(1)?,
                    user: r.get(2)?,
                })
            })?
            .collect::<Result<Vec<_>, _>>()?;
        Ok(rows)
    }
}
