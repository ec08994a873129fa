//! Media engine: RTP/RTCP sessions on UDP port pairs, G.711, RFC 4733 and in-band DTMF, prompt
//! playback, music on hold, bridging (relay or µ/A-law transcode), conference mixing, recording,
//! paced by a few worker threads. Free of SIP types: signalling hands over [`NegotiatedMedia`].
//!
//! Pure cores (no sockets, no clocks): `rtp`, `rtcp`, `g711`, `codec`, `dtmf`, `goertzel`, `wav`,
//! `numbers`, `prompts`, `player`, `stream`, `latch`, `jitter`, `mixer`, `recorder`, `leg`.
//! Edges: `ports`, `worker`, `engine`, `handle`, `recwriter`, `realtime`.

pub mod codec;
pub mod dtmf;
pub mod engine;
pub mod events;
pub mod g711;
pub mod goertzel;
pub mod handle;
pub mod jitter;
pub mod latch;
pub mod leg;
pub mod mixer;
pub mod numbers;
pub mod player;
pub mod ports;
pub mod prompts;
pub mod ratelog;
pub mod realtime;
pub mod recorder;
pub mod recwriter;
pub mod rtcp;
pub mod rtp;
pub mod shared;
pub mod stats;
pub mod stream;
pub mod wav;
pub mod worker;

pub use codec::{Codec, Direction, NegotiatedMedia};
pub use engine::{EngineConfig, MediaEngine, MediaError, SessionOptions};
pub use events::{DigitSource, MediaEvent, RemoteReport, SessionId, SessionStats};
pub use handle::{Conference, MediaSession};
pub use mixer::Role;
pub use prompts::{Prompt, PromptLibrary, Say};
pub use recorder::RecordingMode;
pub use stats::{MediaStats, MediaStatsSnapshot};
