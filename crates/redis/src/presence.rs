//! Presence: which users have a socket open on a live realtime node.
//!
//! - `{namespace}:realtime:nodes`: a sorted set of node id → lease expiry (ms, Redis's clock).
//!   Each node renews its lease by heartbeat ([`Redis::node_heartbeat`]); a node whose expiry
//!   has passed is dead.
//! - `{namespace}:presence:node:{node}`: a hash of user id → how many of the user's sockets are
//!   open on that node.
//! - `{namespace}:presence:user:{user}`: a set of the nodes the user has sockets on.
//!
//! Every change is one Lua script, so the transitions are exact under any interleaving:
//!
//! - A user **goes online** when their first socket anywhere connects (their node set was
//!   empty), and **goes offline** when the set becomes empty again: by the close of their last
//!   socket, or by the takeover of the dead node that held it.
//! - A dead node still counts in these transitions until it is taken over: every node sweeps
//!   ([`Redis::sweep_dead_nodes`]) and one script removes each dead node and its users at once,
//!   so exactly one sweeper takes each dead node over and reports its users that went offline,
//!   each once. Until then its users' statuses stay as they were: a killed node's users go
//!   offline within its lease plus one sweep interval.
//! - [`Redis::is_online`](crate::Redis::is_online) is stricter: it counts live nodes only, so
//!   core-api does not take a killed node's sockets for open ones while the takeover is due.
//! - A node that was taken over while alive (it stalled past its lease) learns it from its next
//!   heartbeat ([`Heartbeat::Registered`]) and must close its sockets: their clients reconnect
//!   and are counted afresh. Until then it cannot count new sockets
//!   ([`Connected::NodeUnknown`]).
//!
//! The takeover script reaches keys it derives from the dead node's users; on a Redis Cluster
//! they would need one hash slot. Only a single Redis runs here.

use std::{sync::LazyLock, time::Duration};

use redis::Script;

use crate::{Error, Redis, ttl_millis};

/// The current time in milliseconds by Redis's own clock, as the local `now`: every node's
/// lease is read against the same clock, whatever the clocks of the machines.
pub(crate) const LUA_NOW: &str = r"
local clock = redis.call('TIME')
local now = tonumber(clock[1]) * 1000 + math.floor(tonumber(clock[2]) / 1000)
";

/// `live_node(nodes, user_nodes, now)`: 1 when one of the user's nodes holds a live lease.
pub(crate) const LUA_LIVE_NODE: &str = r"
local function live_node(nodes, user_nodes, now)
  for _, node in ipairs(redis.call('SMEMBERS', user_nodes)) do
    local expiry = redis.call('ZSCORE', nodes, node)
    if expiry and tonumber(expiry) > now then return 1 end
  end
  return 0
end
";

/// `release(nodes, prefix, node, offline)`: forgets a node and its sockets, appending to
/// `offline` the users left with no node.
const LUA_RELEASE: &str = r"
local function release(nodes, prefix, node, offline)
  redis.call('ZREM', nodes, node)
  local counts = prefix .. 'presence:node:' .. node
  local users = redis.call('HKEYS', counts)
  redis.call('DEL', counts)
  for _, user in ipairs(users) do
    local user_nodes = prefix .. 'presence:user:' .. user
    redis.call('SREM', user_nodes, node)
    if redis.call('SCARD', user_nodes) == 0 then offline[#offline + 1] = user end
  end
end
";

/// Renews a node's lease. KEYS[1]: the nodes; ARGV: node, lease ms. Returns 1 when the node
/// was not registered (its first heartbeat, or it was taken over since the last one).
static HEARTBEAT: LazyLock<Script> = LazyLock::new(|| {
    Script::new(&format!(
        r"
{LUA_NOW}
return redis.call('ZADD', KEYS[1], now + tonumber(ARGV[2]), ARGV[1])
"
    ))
});

/// Counts a socket. KEYS: the nodes, the node's counts, the user's nodes; ARGV: node, user.
/// Returns 1 when the user went online, 0 when they were online already, -1 when the node is
/// not registered (nothing counted).
static CONNECT: LazyLock<Script> = LazyLock::new(|| {
    Script::new(
        r"
if not redis.call('ZSCORE', KEYS[1], ARGV[1]) then return -1 end
local before = redis.call('SCARD', KEYS[3])
redis.call('HINCRBY', KEYS[2], ARGV[2], 1)
redis.call('SADD', KEYS[3], ARGV[1])
if before == 0 then return 1 end
return 0
",
    )
});

/// Uncounts a socket. KEYS: the node's counts, the user's nodes; ARGV: node, user. Returns 1
/// when the user went offline. A socket whose node was taken over or left meanwhile was
/// uncounted then (the count goes below zero): nothing changes.
static DISCONNECT: LazyLock<Script> = LazyLock::new(|| {
    Script::new(
        r"
local count = redis.call('HINCRBY', KEYS[1], ARGV[2], -1)
if count > 0 then return 0 end
redis.call('HDEL', KEYS[1], ARGV[2])
if count < 0 then return 0 end
redis.call('SREM', KEYS[2], ARGV[1])
if redis.call('SCARD', KEYS[2]) == 0 then return 1 end
return 0
",
    )
});

/// Takes over every dead node. KEYS[1]: the nodes; ARGV[1]: the namespace prefix. Returns the
/// users that went offline.
static SWEEP: LazyLock<Script> = LazyLock::new(|| {
    Script::new(&format!(
        r"
{LUA_NOW}
{LUA_RELEASE}
local offline = {{}}
for _, node in ipairs(redis.call('ZRANGEBYSCORE', KEYS[1], '-inf', now)) do
  release(KEYS[1], ARGV[1], node, offline)
end
return offline
"
    ))
});

/// Forgets one node, live or not. KEYS[1]: the nodes; ARGV: the namespace prefix, the node.
/// Returns the users that went offline.
static LEAVE: LazyLock<Script> = LazyLock::new(|| {
    Script::new(&format!(
        r"
{LUA_RELEASE}
local offline = {{}}
release(KEYS[1], ARGV[1], ARGV[2], offline)
return offline
"
    ))
});

/// What a heartbeat found.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Heartbeat {
    /// The node was registered and its lease is renewed.
    Renewed,
    /// The node was not registered and now is: its first heartbeat, or it had been taken over
    /// as dead, and then the sockets it still has are counted nowhere.
    Registered,
}

/// What counting a new socket found.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Connected {
    /// The user had no other socket on any node.
    WentOnline,
    /// The user was online already.
    AlreadyOnline,
    /// The node is not registered (taken over as dead, or no heartbeat yet): nothing was
    /// counted.
    NodeUnknown,
}

impl Redis {
    pub(crate) fn nodes_key(&self) -> String {
        self.key("realtime:nodes")
    }

    pub(crate) fn user_nodes_key(&self, user_id: &str) -> String {
        self.key(&format!("presence:user:{user_id}"))
    }

    fn node_counts_key(&self, node: &str) -> String {
        self.key(&format!("presence:node:{node}"))
    }

    /// Registers `node` or renews its lease: it counts as live for `lease` from now.
    pub async fn node_heartbeat(&self, node: &str, lease: Duration) -> Result<Heartbeat, Error> {
        let mut conn = self.pool().get().await?;
        let added: i64 = HEARTBEAT
            .key(self.nodes_key())
            .arg(node)
            .arg(ttl_millis(lease))
            .invoke_async(&mut conn)
            .await?;
        Ok(if added == 1 {
            Heartbeat::Registered
        } else {
            Heartbeat::Renewed
        })
    }

    /// Counts a socket of `user_id` on `node`.
    pub async fn presence_connect(&self, node: &str, user_id: &str) -> Result<Connected, Error> {
        let mut conn = self.pool().get().await?;
        let outcome: i64 = CONNECT
            .key(self.nodes_key())
            .key(self.node_counts_key(node))
            .key(self.user_nodes_key(user_id))
            .arg(node)
            .arg(user_id)
            .invoke_async(&mut conn)
            .await?;
        Ok(match outcome {
            1 => Connected::WentOnline,
            0 => Connected::AlreadyOnline,
            _ => Connected::NodeUnknown,
        })
    }

    /// Uncounts a socket of `user_id` on `node`; true when the user went offline.
    pub async fn presence_disconnect(&self, node: &str, user_id: &str) -> Result<bool, Error> {
        let mut conn = self.pool().get().await?;
        let offline: i64 = DISCONNECT
            .key(self.node_counts_key(node))
            .key(self.user_nodes_key(user_id))
            .arg(node)
            .arg(user_id)
            .invoke_async(&mut conn)
            .await?;
        Ok(offline == 1)
    }

    /// Takes over every node whose lease has passed; returns the users that went offline by it.
    /// Of racing sweepers, exactly one takes each dead node over.
    pub async fn sweep_dead_nodes(&self) -> Result<Vec<String>, Error> {
        let mut conn = self.pool().get().await?;
        let offline: Vec<String> = SWEEP
            .key(self.nodes_key())
            .arg(self.key(""))
            .invoke_async(&mut conn)
            .await?;
        Ok(offline)
    }

    /// The nodes counting a socket of `user_id`, live or not yet taken over: for tests and
    /// operators.
    pub async fn presence_nodes(&self, user_id: &str) -> Result<Vec<String>, Error> {
        let mut conn = self.pool().get().await?;
        let nodes: Vec<String> = redis::cmd("SMEMBERS")
            .arg(self.user_nodes_key(user_id))
            .query_async(&mut conn)
            .await?;
        Ok(nodes)
    }

    /// Forgets `node` and every socket it counted (its shutdown); returns the users that went
    /// offline by it.
    pub async fn leave_node(&self, node: &str) -> Result<Vec<String>, Error> {
        let mut conn = self.pool().get().await?;
        let offline: Vec<String> = LEAVE
            .key(self.nodes_key())
            .arg(self.key(""))
            .arg(node)
            .invoke_async(&mut conn)
            .await?;
        Ok(offline)
    }
}
