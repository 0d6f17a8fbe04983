//! Who belongs to which conversation, as the realtime nodes see it. The store is the record;
//! realtime reads only Redis, so core-api copies the parties of each conversation here and
//! realtime authorizes every socket event against the copy.
//!
//! - `{namespace}:chat:conversation:{id}:members`: a set of the parties' user ids.
//! - `{namespace}:chat:contacts:{user}`: a set of everyone the user shares a conversation with;
//!   presence changes of the user are told to them, and only they may ask for it.
//!
//! Both are written with `SADD`, so recording a conversation again changes nothing; core-api
//! records it on every send, which also seeds a Redis that lost its data. Nothing expires:
//! a conversation's parties never change.

use std::{collections::HashMap, sync::LazyLock};

use redis::Script;

use crate::{Error, Redis};

/// The statuses of those of the asked users who are contacts of the caller, each as whether a
/// live node has one of their sockets. KEYS[1]: the caller's contacts; KEYS[2]: the nodes;
/// ARGV[1]: the namespace prefix (`{namespace}:`); ARGV[2..]: the asked user ids. Returns a
/// flat list `id, status, id, status, ..`, each status `online` or `offline`.
static CONTACT_STATUSES: LazyLock<Script> = LazyLock::new(|| {
    Script::new(&format!(
        r"
{now}
{live}
local statuses = {{}}
for i = 2, #ARGV do
  local user = ARGV[i]
  if redis.call('SISMEMBER', KEYS[1], user) == 1 then
    statuses[#statuses + 1] = user
    local live = live_node(KEYS[2], ARGV[1] .. 'presence:user:' .. user, now)
    statuses[#statuses + 1] = live == 1 and 'online' or 'offline'
  end
end
return statuses
",
        now = crate::presence::LUA_NOW,
        live = crate::presence::LUA_LIVE_NODE,
    ))
});

/// Whether the user has a socket on a live node. KEYS[1]: the nodes; KEYS[2]: the user's nodes.
static IS_ONLINE: LazyLock<Script> = LazyLock::new(|| {
    Script::new(&format!(
        r"
{now}
{live}
return live_node(KEYS[1], KEYS[2], now)
",
        now = crate::presence::LUA_NOW,
        live = crate::presence::LUA_LIVE_NODE,
    ))
});

impl Redis {
    fn members_key(&self, conversation_id: &str) -> String {
        self.key(&format!("chat:conversation:{conversation_id}:members"))
    }

    fn contacts_key(&self, user_id: &str) -> String {
        self.key(&format!("chat:contacts:{user_id}"))
    }

    /// Records the parties of a conversation and makes each one a contact of the others.
    /// Idempotent (SADD); core-api calls it on open and on every send (re-seeds a flushed Redis).
    pub async fn record_conversation(
        &self,
        conversation_id: &str,
        participants: &[String],
    ) -> Result<(), Error> {
        if participants.is_empty() {
            return Ok(());
        }
        let mut pipe = redis::pipe();
        // One transaction: a reader never sees the members without their contacts.
        pipe.atomic();
        pipe.sadd(self.members_key(conversation_id), participants)
            .ignore();
        for user in participants {
            let others: Vec<&String> = participants.iter().filter(|p| *p != user).collect();
            if !others.is_empty() {
                pipe.sadd(self.contacts_key(user), others).ignore();
            }
        }
        let mut conn = self.pool().get().await?;
        let () = pipe.query_async(&mut conn).await?;
        Ok(())
    }

    pub async fn is_conversation_member(
        &self,
        conversation_id: &str,
        user_id: &str,
    ) -> Result<bool, Error> {
        let mut conn = self.pool().get().await?;
        let member: bool = redis::cmd("SISMEMBER")
            .arg(self.members_key(conversation_id))
            .arg(user_id)
            .query_async(&mut conn)
            .await?;
        Ok(member)
    }

    /// Every party of the conversation, in no particular order; empty for one never recorded.
    pub async fn conversation_members(&self, conversation_id: &str) -> Result<Vec<String>, Error> {
        let mut conn = self.pool().get().await?;
        let members: Vec<String> = redis::cmd("SMEMBERS")
            .arg(self.members_key(conversation_id))
            .query_async(&mut conn)
            .await?;
        Ok(members)
    }

    /// Everyone `user_id` shares a conversation with.
    pub async fn contacts(&self, user_id: &str) -> Result<Vec<String>, Error> {
        let mut conn = self.pool().get().await?;
        let contacts: Vec<String> = redis::cmd("SMEMBERS")
            .arg(self.contacts_key(user_id))
            .query_async(&mut conn)
            .await?;
        Ok(contacts)
    }

    /// Whether any socket of the user is connected on a live realtime node.
    pub async fn is_online(&self, user_id: &str) -> Result<bool, Error> {
        let mut conn = self.pool().get().await?;
        let online: i64 = IS_ONLINE
            .key(self.nodes_key())
            .key(self.user_nodes_key(user_id))
            .invoke_async(&mut conn)
            .await?;
        Ok(online == 1)
    }

    /// Whether each of `user_ids` is online, for those who are contacts of `user_id`; the others
    /// are left out, so a user learns nothing of strangers.
    pub async fn contact_statuses(
        &self,
        user_id: &str,
        user_ids: &[String],
    ) -> Result<HashMap<String, bool>, Error> {
        if user_ids.is_empty() {
            return Ok(HashMap::new());
        }
        let mut invocation = CONTACT_STATUSES.prepare_invoke();
        invocation
            .key(self.contacts_key(user_id))
            .key(self.nodes_key())
            .arg(self.key(""));
        for id in user_ids {
            invocation.arg(id);
        }
        let mut conn = self.pool().get().await?;
        let flat: Vec<String> = invocation.invoke_async(&mut conn).await?;
        Ok(flat
            .chunks_exact(2)
            .map(|pair| (pair[0].clone(), pair[1] == "online"))
            .collect())
    }
}
