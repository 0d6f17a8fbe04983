//! One embedded index on disk: its generations, its single writer and the version guard.
//!
//! Layout: `<dir>/<kind>/g<n>/` holds tantivy generation `n`; `<dir>/<kind>/CURRENT` names the
//! live one. A reindex builds generation `n + 1` beside it, then renames a new `CURRENT` over
//! the old (atomic on POSIX) and reopens: in this process at once, in read-only processes at
//! their next pointer check (at most a second later). Everything here is blocking; the adapter
//! calls it from `spawn_blocking`.

use std::{
    collections::HashMap,
    fs,
    path::{Path, PathBuf},
    sync::{Arc, Mutex, RwLock},
    time::{Duration, Instant},
};

use tantivy::{
    DocAddress, Index, IndexReader, IndexWriter, ReloadPolicy, Searcher, TantivyDocument,
    collector::DocSetCollector, directory::MmapDirectory, query::TermQuery,
    schema::IndexRecordOption,
};

use super::schema::Fields;
use crate::{SearchError, documents::IndexKind};

/// The live writer's indexing memory: enough for the sync handler's small batches.
const LIVE_WRITER_MEMORY: usize = 64_000_000;
/// A reindex writes everything at once; more memory means fewer, larger segments.
const BUILD_WRITER_MEMORY: usize = 512_000_000;
const BUILD_WRITER_THREADS: usize = 2;
/// How often a read-only process looks for a swapped-in generation.
const POINTER_CHECK_INTERVAL: Duration = Duration::from_secs(1);
const POINTER_FILE: &str = "CURRENT";

/// What the index holds for an id: the version and whether it is live or a tombstone.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) struct Stored {
    pub version: u64,
    pub live: bool,
}

/// A write the guard may let through.
pub(super) struct Write {
    pub id: String,
    pub version: u64,
    /// The document to store; `None` for a delete (a tombstone is stored instead).
    pub doc: Option<TantivyDocument>,
}

impl Write {
    /// Whether this write replaces what is stored: an upsert needs a newer version, a delete
    /// wins ties (so an upsert and a delete of one state end deleted, in either order).
    fn supersedes(&self, stored: Option<Stored>) -> bool {
        match stored {
            None => true,
            Some(stored) if self.doc.is_some() => self.version > stored.version,
            Some(stored) => {
                self.version > stored.version || (self.version == stored.version && stored.live)
            }
        }
    }
}

/// One opened generation.
pub(super) struct Generation {
    pub name: String,
    pub index: Index,
    pub reader: IndexReader,
}

impl Generation {
    fn open(
        dir: &Path,
        name: &str,
        create: bool,
        fields: &Fields,
        policy: ReloadPolicy,
    ) -> Result<Self, SearchError> {
        let path = dir.join(name);
        let index = if create {
            fs::create_dir_all(&path).map_err(unavailable)?;
            let directory = MmapDirectory::open(&path).map_err(unavailable)?;
            Index::open_or_create(directory, fields.schema.clone()).map_err(unavailable)?
        } else {
            Index::open_in_dir(&path).map_err(unavailable)?
        };
        Fields::register_analyzer(&index);
        let reader = index
            .reader_builder()
            .reload_policy(policy)
            .try_into()
            .map_err(unavailable)?;
        Ok(Self {
            name: name.to_owned(),
            index,
            reader,
        })
    }
}

/// A reindex under way.
struct Build {
    /// Tells this build from a later one, for a dropped handle.
    ticket: u64,
    name: String,
    index: Index,
    writer: IndexWriter,
    /// What the build holds per id, instead of searching an uncommitted index.
    stored: HashMap<String, Stored>,
}

struct Writes {
    live: IndexWriter,
    build: Option<Build>,
    next_ticket: u64,
}

/// One index (influencers or gigs) of this process.
pub(super) struct Engine {
    pub fields: Fields,
    dir: PathBuf,
    active: RwLock<Option<Arc<Generation>>>,
    /// `None` in a read-only process.
    writes: Option<Mutex<Writes>>,
    last_pointer_check: Mutex<Instant>,
}

impl Engine {
    /// Opens (creating when missing, unless read-only) the index of `kind` under `root`.
    pub fn open(root: &Path, kind: IndexKind, read_only: bool) -> Result<Self, SearchError> {
        let dir = root.join(kind.name());
        let fields = Fields::new();
        if read_only {
            let active = match read_pointer(&dir)? {
                Some(name) => Some(Arc::new(Generation::open(
                    &dir,
                    &name,
                    false,
                    &fields,
                    ReloadPolicy::OnCommitWithDelay,
                )?)),
                None => None,
            };
            return Ok(Self {
                fields,
                dir,
                active: RwLock::new(active),
                writes: None,
                last_pointer_check: Mutex::new(Instant::now()),
            });
        }
        fs::create_dir_all(&dir).map_err(unavailable)?;
        let name = match read_pointer(&dir)? {
            Some(name) => name,
            None => {
                let name = generation_name(1);
                write_pointer(&dir, &name)?;
                name
            }
        };
        let generation = Generation::open(&dir, &name, true, &fields, ReloadPolicy::Manual)?;
        remove_other_generations(&dir, &name);
        let live = generation
            .index
            .writer_with_num_threads(1, LIVE_WRITER_MEMORY)
            .map_err(unavailable)?;
        Ok(Self {
            fields,
            dir,
            active: RwLock::new(Some(Arc::new(generation))),
            writes: Some(Mutex::new(Writes {
                live,
                build: None,
                next_ticket: 1,
            })),
            last_pointer_check: Mutex::new(Instant::now()),
        })
    }

    /// The generation searches run on; a read-only process first follows a swap made by the
    /// writing process.
    pub fn generation(&self) -> Result<Arc<Generation>, SearchError> {
        if self.writes.is_none() {
            self.follow_pointer()?;
        }
        let active = self.active.read().map_err(|_| poisoned())?;
        active.clone().ok_or_else(|| {
            SearchError::Unavailable("the search index has not been built yet".to_owned())
        })
    }

    fn follow_pointer(&self) -> Result<(), SearchError> {
        {
            let mut last = self.last_pointer_check.lock().map_err(|_| poisoned())?;
            let has_generation = self.active.read().map_err(|_| poisoned())?.is_some();
            if has_generation && last.elapsed() < POINTER_CHECK_INTERVAL {
                return Ok(());
            }
            *last = Instant::now();
        }
        let Some(name) = read_pointer(&self.dir)? else {
            return Ok(());
        };
        let current = self
            .active
            .read()
            .map_err(|_| poisoned())?
            .as_ref()
            .map(|g| g.name.clone());
        if current.as_deref() != Some(name.as_str()) {
            let generation = Generation::open(
                &self.dir,
                &name,
                false,
                &self.fields,
                ReloadPolicy::OnCommitWithDelay,
            )?;
            *self.active.write().map_err(|_| poisoned())? = Some(Arc::new(generation));
        }
        Ok(())
    }

    /// Applies the writes the guard lets through, to the live index and to a build under way,
    /// commits, and reloads the reader so the next search sees them.
    pub fn apply(&self, writes: Vec<Write>) -> Result<(), SearchError> {
        let mut state = self.writes()?.lock().map_err(|_| poisoned())?;
        let generation = self.generation()?;
        let searcher = generation.reader.searcher();
        let mut pending: HashMap<String, Stored> = HashMap::new();
        for write in writes {
            let stored = match pending.get(&write.id) {
                Some(stored) => Some(*stored),
                None => self.stored(&searcher, &write.id)?,
            };
            if let Some(build) = state.build.as_mut() {
                apply_to_build(build, &self.fields, &write)?;
            }
            if write.supersedes(stored) {
                pending.insert(
                    write.id.clone(),
                    Stored {
                        version: write.version,
                        live: write.doc.is_some(),
                    },
                );
                put(&state.live, &self.fields, write)?;
            }
        }
        if !pending.is_empty() {
            state.live.commit().map_err(unavailable)?;
            generation.reader.reload().map_err(unavailable)?;
        }
        Ok(())
    }

    /// What the live index holds for `id`.
    fn stored(&self, searcher: &Searcher, id: &str) -> Result<Option<Stored>, SearchError> {
        let query = TermQuery::new(self.fields.id_term(id), IndexRecordOption::Basic);
        let addresses = searcher
            .search(&query, &DocSetCollector)
            .map_err(unavailable)?;
        let mut newest: Option<Stored> = None;
        for DocAddress {
            segment_ord,
            doc_id,
        } in addresses
        {
            let segment = searcher.segment_reader(segment_ord);
            let fast_fields = segment.fast_fields();
            let version = fast_fields
                .u64("version")
                .map_err(unavailable)?
                .first(doc_id)
                .unwrap_or(0);
            let live = fast_fields.u64("live").map_err(unavailable)?.first(doc_id) == Some(1);
            if newest.is_none_or(|n| version > n.version) {
                newest = Some(Stored { version, live });
            }
        }
        Ok(newest)
    }

    /// Starts a build of a new generation; `ReindexRunning` while another one is under way.
    pub fn begin_build(&self) -> Result<u64, SearchError> {
        let mut state = self.writes()?.lock().map_err(|_| poisoned())?;
        if state.build.is_some() {
            return Err(SearchError::ReindexRunning);
        }
        let current = self.generation()?;
        let number = current
            .name
            .trim_start_matches('g')
            .parse::<u64>()
            .unwrap_or(0)
            + 1;
        let name = generation_name(number);
        let _ = fs::remove_dir_all(self.dir.join(&name));
        let generation =
            Generation::open(&self.dir, &name, true, &self.fields, ReloadPolicy::Manual)?;
        let writer = generation
            .index
            .writer_with_num_threads(BUILD_WRITER_THREADS, BUILD_WRITER_MEMORY)
            .map_err(unavailable)?;
        let ticket = state.next_ticket;
        state.next_ticket += 1;
        state.build = Some(Build {
            ticket,
            name,
            index: generation.index,
            writer,
            stored: HashMap::new(),
        });
        Ok(ticket)
    }

    /// Adds writes to the build `ticket` only (the live index keeps its state).
    pub fn add_to_build(&self, ticket: u64, writes: Vec<Write>) -> Result<(), SearchError> {
        let mut state = self.writes()?.lock().map_err(|_| poisoned())?;
        let build = current_build(&mut state, ticket)?;
        for write in writes {
            apply_to_build(build, &self.fields, &write)?;
        }
        Ok(())
    }

    /// Commits the build `ticket`, makes it the live generation and its writer the live writer.
    pub fn finish_build(&self, ticket: u64) -> Result<(), SearchError> {
        let mut state = self.writes()?.lock().map_err(|_| poisoned())?;
        current_build(&mut state, ticket)?;
        let Some(mut build) = state.build.take() else {
            return Err(stale_build());
        };
        build.writer.commit().map_err(unavailable)?;
        let reader = build
            .index
            .reader_builder()
            .reload_policy(ReloadPolicy::Manual)
            .try_into()
            .map_err(unavailable)?;
        write_pointer(&self.dir, &build.name)?;
        let generation = Arc::new(Generation {
            name: build.name.clone(),
            index: build.index,
            reader,
        });
        let previous = self
            .active
            .write()
            .map_err(|_| poisoned())?
            .replace(generation);
        let old_writer = std::mem::replace(&mut state.live, build.writer);
        drop(old_writer);
        if let Some(previous) = previous {
            // Searches still holding the old generation keep their open (mmapped) files.
            let _ = fs::remove_dir_all(self.dir.join(&previous.name));
        }
        Ok(())
    }

    /// Throws the build `ticket` away, if it is still the one under way.
    pub fn abandon_build(&self, ticket: u64) {
        let Ok(mut state) = self.writes().and_then(|w| w.lock().map_err(|_| poisoned())) else {
            return;
        };
        if state.build.as_ref().is_some_and(|b| b.ticket == ticket)
            && let Some(build) = state.build.take()
        {
            drop(build.writer);
            let _ = fs::remove_dir_all(self.dir.join(&build.name));
        }
    }

    fn writes(&self) -> Result<&Mutex<Writes>, SearchError> {
        self.writes.as_ref().ok_or_else(|| {
            SearchError::Unavailable("this process opened search read-only".to_owned())
        })
    }
}

fn current_build(state: &mut Writes, ticket: u64) -> Result<&mut Build, SearchError> {
    state
        .build
        .as_mut()
        .filter(|b| b.ticket == ticket)
        .ok_or_else(stale_build)
}

fn stale_build() -> SearchError {
    SearchError::Unavailable("the reindex was abandoned".to_owned())
}

fn apply_to_build(build: &mut Build, fields: &Fields, write: &Write) -> Result<(), SearchError> {
    if !write.supersedes(build.stored.get(&write.id).copied()) {
        return Ok(());
    }
    build.stored.insert(
        write.id.clone(),
        Stored {
            version: write.version,
            live: write.doc.is_some(),
        },
    );
    let copy = Write {
        id: write.id.clone(),
        version: write.version,
        doc: write.doc.clone(),
    };
    put(&build.writer, fields, copy)
}

/// Replaces every stored version of the id with the write (or its tombstone).
fn put(writer: &IndexWriter, fields: &Fields, write: Write) -> Result<(), SearchError> {
    writer.delete_term(fields.id_term(&write.id));
    let doc = write
        .doc
        .unwrap_or_else(|| fields.tombstone(&write.id, write.version));
    writer.add_document(doc).map_err(unavailable)?;
    Ok(())
}

fn generation_name(number: u64) -> String {
    format!("g{number:06}")
}

fn read_pointer(dir: &Path) -> Result<Option<String>, SearchError> {
    match fs::read_to_string(dir.join(POINTER_FILE)) {
        Ok(name) => Ok(Some(name.trim().to_owned()).filter(|n| !n.is_empty())),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
        Err(e) => Err(unavailable(e)),
    }
}

/// Writes the pointer to a temporary file, syncs it and renames it over the old one, so a
/// reader sees the old name or the new one, never a torn file.
fn write_pointer(dir: &Path, name: &str) -> Result<(), SearchError> {
    let temporary = dir.join(format!("{POINTER_FILE}.tmp"));
    fs::write(&temporary, name).map_err(unavailable)?;
    fs::File::open(&temporary)
        .and_then(|f| f.sync_all())
        .map_err(unavailable)?;
    fs::rename(&temporary, dir.join(POINTER_FILE)).map_err(unavailable)
}

/// Removes generations other than `keep`: builds abandoned by a crash, or left by a swap.
fn remove_other_generations(dir: &Path, keep: &str) {
    let Ok(entries) = fs::read_dir(dir) else {
        return;
    };
    for entry in entries.flatten() {
        let name = entry.file_name();
        let name = name.to_string_lossy();
        if name.starts_with('g') && name != keep && entry.path().is_dir() {
            let _ = fs::remove_dir_all(entry.path());
        }
    }
}

pub(super) fn unavailable(error: impl std::fmt::Display) -> SearchError {
    SearchError::Unavailable(error.to_string())
}

fn poisoned() -> SearchError {
    SearchError::Unavailable("a search lock was poisoned by a panic".to_owned())
}
