//! The media engine: owns the RTP port range, the pacing worker threads and the recording
//! writer; opens sessions (a port pair bound, a leg handed to the least loaded worker) and
//! returns their control handle and event channel.

use std::collections::hash_map::RandomState;
use std::hash::{BuildHasher, Hasher};
use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::path::Path;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::{mpsc, Arc, Mutex};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use thiserror::Error;
use tokio::sync::mpsc as tmpsc;

use super::codec::NegotiatedMedia;
use super::events::MediaEvent;
use super::handle::MediaSession;
use super::leg::{Leg, LegSetup};
use super::ports::PortPool;
use super::prompts::{Prompt, PromptLibrary};
use super::recwriter::RecWriter;
use super::stats::MediaStats;
use super::wav::WavError;
use super::worker::{Slot, Worker, WorkerMsg};

/// Engine settings (from the server config).
#[derive(Debug, Clone)]
pub struct EngineConfig {
    /// Address the RTP sockets bind to.
    pub bind_ip: IpAddr,
    /// Address put in SDP (the public one behind NAT); `None` = `bind_ip`.
    pub advertised_ip: Option<IpAddr>,
    /// First port of the range (RTP on even ports, RTCP on the odd one above).
    pub port_min: u16,
    /// Last port of the range.
    pub port_max: u16,
    /// Pacing worker threads; 0 = one per core.
    pub workers: usize,
    /// No RTP and no RTCP for this long raises `MediaTimeout`.
    pub media_timeout: Duration,
    /// The same for an inactive stream (a hold); at least `media_timeout`.
    pub hold_timeout: Duration,
    /// Packets of symmetric-RTP learning after each answer / re-INVITE (0 = SDP address only).
    pub latch_packets: u32,
    /// Mean RTCP report interval.
    pub rtcp_interval: Duration,
    /// RTCP CNAME.
    pub cname: String,
    /// Played to held legs that have no music of their own.
    pub hold_music: Vec<Arc<Prompt>>,
    /// Run the pacing workers under SCHED_FIFO at this priority (1–99; Linux, needs root or
    /// CAP_SYS_NICE / LimitRTPRIO). On a busy host this keeps the 20 ms pacing steady; the
    /// workers sleep most of the time, so they cannot starve the rest. `None` = normal.
    pub worker_rt_priority: Option<i32>,
}

impl Default for EngineConfig {
    fn default() -> Self {
        EngineConfig {
            bind_ip: IpAddr::V4(Ipv4Addr::UNSPECIFIED),
            advertised_ip: None,
            port_min: 20000,
            port_max: 30000,
            workers: 0,
            media_timeout: Duration::from_secs(30),
            hold_timeout: Duration::from_secs(600),
            latch_packets: 10,
            rtcp_interval: Duration::from_secs(5),
            cname: "helpline".into(),
            hold_music: Vec::new(),
            worker_rt_priority: None,
        }
    }
}

/// Why the engine or a session could not start.
#[derive(Debug, Error)]
pub enum MediaError {
    /// Sockets or threads could not be created.
    #[error("media I/O error: {0}")]
    Io(#[from] std::io::Error),
    /// The engine is shutting down.
    #[error("media engine is stopped")]
    Stopped,
}

/// Options for one session.
#[derive(Debug, Clone, Default)]
pub struct SessionOptions {
    /// Label for logs (the call id).
    pub label: String,
    /// Negotiated media, when already known (incoming INVITE with offer).
    pub media: Option<NegotiatedMedia>,
    /// Detect in-band DTMF (per-number option for gateways that send tones in audio).
    pub inband_dtmf: bool,
    /// Event channel capacity (0 = 64).
    pub event_capacity: usize,
}

struct WorkerLink {
    tx: mpsc::Sender<WorkerMsg>,
    load: Arc<AtomicUsize>,
}

struct Inner {
    config: EngineConfig,
    advertised: IpAddr,
    pool: Arc<PortPool>,
    workers: Vec<WorkerLink>,
    threads: Mutex<Vec<JoinHandle<()>>>,
    writer: Mutex<Option<(RecWriter, JoinHandle<()>)>>,
    stats: Arc<MediaStats>,
    next_id: AtomicU64,
    hold_music: Arc<Vec<Arc<Prompt>>>,
    epoch: Instant,
    random: RandomState,
}

/// The media engine; cheap to clone, stops when the last clone is dropped.
#[derive(Clone)]
pub struct MediaEngine {
    inner: Arc<Inner>,
}

impl MediaEngine {
    /// Starts the workers and the recording writer.
    pub fn start(config: EngineConfig) -> Result<MediaEngine, MediaError> {
        let stats = Arc::new(MediaStats::default());
        let pool = Arc::new(PortPool::new(config.port_min, config.port_max));
        let epoch = Instant::now();
        let n = if config.workers == 0 {
            std::thread::available_parallelism().map_or(2, |n| n.get())
        } else {
            config.workers
        };
        let mut workers = Vec::new();
        let mut threads = Vec::new();
        for i in 0..n {
            let (tx, rx) = mpsc::channel();
            let load = Arc::new(AtomicUsize::new(0));
            let w = Worker::new(rx, epoch, stats.clone(), pool.clone(), load.clone());
            let rt = config.worker_rt_priority;
            threads.push(
                std::thread::Builder::new()
                    .name(format!("media-worker-{i}"))
                    .spawn(move || {
                        if let Some(prio) = rt {
                            if let Err(e) = super::realtime::set_fifo(prio) {
                                tracing::warn!(prio, error = %e, "media worker keeps normal scheduling");
                            }
                        }
                        w.run()
                    })?,
            );
            workers.push(WorkerLink { tx, load });
        }
        let writer = RecWriter::spawn(stats.clone())?;
        let advertised = config.advertised_ip.unwrap_or(config.bind_ip);
        Ok(MediaEngine {
            inner: Arc::new(Inner {
                hold_music: Arc::new(config.hold_music.clone()),
                config,
                advertised,
                pool,
                workers,
                threads: Mutex::new(threads),
                writer: Mutex::new(Some(writer)),
                stats,
                next_id: AtomicU64::new(1),
                epoch,
                random: RandomState::new(),
            }),
        })
    }

    /// Engine-wide counters for the metrics endpoint.
    pub fn stats(&self) -> Arc<MediaStats> {
        self.inner.stats.clone()
    }

    /// Address to put in SDP.
    pub fn advertised_ip(&self) -> IpAddr {
        self.inner.advertised
    }

    /// Free port pairs left.
    pub fn ports_available(&self) -> usize {
        self.inner.pool.available()
    }

    /// Loads the prompt library (blocking file I/O: at start, or in `spawn_blocking` on reload).
    /// Bad files are logged, counted in `prompt_load_errors` and returned; the rest loads.
    pub fn load_prompts(
        &self,
        dir: &Path,
        fallback: &str,
    ) -> Result<(PromptLibrary, Vec<WavError>), WavError> {
        let (lib, errors) = PromptLibrary::load_dir(dir, fallback)?;
        for e in &errors {
            tracing::warn!("prompt refused: {e}");
        }
        MediaStats::add(&self.inner.stats.prompt_load_errors, errors.len() as u64);
        Ok((lib, errors))
    }

    fn random_u64(&self, salt: u64) -> u64 {
        let mut h = self.inner.random.build_hasher();
        h.write_u64(salt);
        h.write_u128(self.inner.epoch.elapsed().as_nanos());
        h.finish()
    }

    /// Opens a session: binds a port pair and hands the leg to the least loaded worker. The
    /// handle's `local_addr()` goes into our SDP; events arrive on the returned channel.
    pub fn open(
        &self,
        opts: SessionOptions,
    ) -> Result<(MediaSession, tmpsc::Receiver<MediaEvent>), MediaError> {
        let workers = &self.inner.workers;
        let index = (0..workers.len())
            .min_by_key(|&i| workers[i].load.load(Ordering::Relaxed))
            .ok_or(MediaError::Stopped)?;
        self.open_on(index, opts)
    }

    /// Like [`MediaEngine::open`], on the same worker as `peer`: use it for the leg that will
    /// be bridged to `peer` (the agent leg of a caller), so the relay stays on one thread.
    pub fn open_near(
        &self,
        peer: &MediaSession,
        opts: SessionOptions,
    ) -> Result<(MediaSession, tmpsc::Receiver<MediaEvent>), MediaError> {
        self.open_on(peer.worker_index() % self.inner.workers.len().max(1), opts)
    }

    fn open_on(
        &self,
        index: usize,
        opts: SessionOptions,
    ) -> Result<(MediaSession, tmpsc::Receiver<MediaEvent>), MediaError> {
        let inner = &self.inner;
        let worker = inner.workers.get(index).ok_or(MediaError::Stopped)?;
        let writer = inner
            .writer
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .as_ref()
            .map(|(w, _)| w.clone())
            .ok_or(MediaError::Stopped)?;
        let ports = inner.pool.bind(inner.config.bind_ip)?;
        let id = inner.next_id.fetch_add(1, Ordering::Relaxed);
        let r = self.random_u64(id);
        let setup = LegSetup {
            id,
            label: opts.label.clone(),
            ssrc: r as u32,
            first_seq: (r >> 32) as u16,
            ts_base: (r >> 16) as u32 ^ (r >> 48) as u32,
            latch_packets: inner.config.latch_packets,
            media_timeout: inner.config.media_timeout,
            hold_timeout: inner.config.hold_timeout,
            rtcp_interval: inner.config.rtcp_interval,
            cname: inner.config.cname.clone(),
            hold_music: inner.hold_music.clone(),
            inband_dtmf: opts.inband_dtmf,
        };
        let cap = if opts.event_capacity == 0 {
            64
        } else {
            opts.event_capacity
        };
        let (etx, erx) = tmpsc::channel(cap);
        let leg = Leg::new(
            setup,
            opts.media,
            inner.stats.clone(),
            etx,
            writer,
            Instant::now(),
        );
        let local = SocketAddr::new(inner.advertised, ports.port);
        let handle = MediaSession::new(id, local, index, worker.tx.clone(), leg.shared());
        let port = ports.port;
        // Counted here, not when the worker picks it up, so a burst of opens spreads out.
        worker.load.fetch_add(1, Ordering::Relaxed);
        if worker
            .tx
            .send(WorkerMsg::Add(Box::new(Slot { leg, ports })))
            .is_err()
        {
            worker.load.fetch_sub(1, Ordering::Relaxed);
            inner.pool.release(port);
            return Err(MediaError::Stopped);
        }
        MediaStats::add(&inner.stats.active_sessions, 1);
        Ok((handle, erx))
    }
}

impl Drop for Inner {
    fn drop(&mut self) {
        for w in &self.workers {
            let _ = w.tx.send(WorkerMsg::Shutdown);
        }
        let threads = std::mem::take(&mut *self.threads.lock().unwrap_or_else(|e| e.into_inner()));
        for t in threads {
            let _ = t.join();
        }
        let writer = self.writer.lock().unwrap_or_else(|e| e.into_inner()).take();
        if let Some((w, t)) = writer {
            drop(w);
            let _ = t.join();
        }
    }
}
