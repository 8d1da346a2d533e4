//! The stream gateway: one WebRTC session (str0m, sans-IO) per viewer.
//!
//! Signalling is one HTTP exchange: the viewer posts an SDP offer (with its ICE candidates
//! gathered) and gets the answer, which carries this gateway's host candidate. Then a task per
//! session drives str0m from three inputs (UDP datagrams, the phone's encoded video, timers)
//! and feeds it the outputs back, sending:
//! - down: the phone's H.264 video, starting at a keyframe, and its sound (Opus);
//! - up: control messages from the `control` data channel into [`PhoneLink::deliver`], and the
//!   viewer's camera (H.264, decoded on a thread of its own) and microphone (Opus) into
//!   [`PhoneLink::deliver_media`]: the one gate every upstream message passes before it
//!   reaches the phone.

mod camera;
mod ladder;

use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use cloudphone_media::{AudioDecoder, AudioPacket, DecodedPicture, EncodedFrame};
use cloudphone_protocol::control::{CONTROL_CHANNEL_LABEL, ControlEvent, InputCategory};
use cloudphone_protocol::quality::StreamQuality;
use cloudphone_protocol::{ApiError, ControlMessage, ErrorCode};
use str0m::bwe::{Bitrate, BweKind};
use str0m::change::SdpOffer;
use str0m::channel::ChannelId;
use str0m::format::Codec;
use str0m::media::{Frequency, KeyframeRequestKind, MediaData, MediaKind, MediaTime, Mid};
use str0m::net::{Protocol, Receive};
use str0m::{Candidate, Event, IceConnectionState, Input, Output, Rtc, RtcConfig};
use tokio::net::UdpSocket;
use tokio::sync::broadcast;
use tokio::sync::broadcast::error::RecvError;

use crate::camera::{CameraFeed, CameraNote};
use crate::ladder::{LinkReport, loss_based_estimate_bps, lower_step, next_bitrate};

/// How long a session may take from answer to connected before it is dropped.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(30);
/// How often a session reports its statistics to the viewer.
pub const STATS_INTERVAL: Duration = Duration::from_secs(2);

/// What a session needs of the phone it shows. The server implements it over the device host,
/// with the upstream gate inside [`PhoneLink::deliver`].
pub trait PhoneLink: Send + Sync + 'static {
    /// A new receiver of the phone's screen at `quality` (shared with every viewer of that
    /// quality); `None` when no encoder can be started.
    fn subscribe_video(&self, quality: StreamQuality) -> Option<broadcast::Receiver<Arc<EncodedFrame>>>;
    /// Asks the encoder of `quality` for a keyframe of the current screen.
    fn request_keyframe(&self, quality: StreamQuality);
    /// The phone's screen size now (what a quality's picture size is fitted from).
    fn screen_size(&self) -> (u32, u32);
    /// Passes one upstream message through the gate to the phone; the error is sent back to
    /// the viewer as an error event.
    fn deliver(&self, message: ControlMessage) -> Result<(), ApiError>;
    /// A new receiver of the phone's events (clipboard, rotation, foreground app).
    fn subscribe_events(&self) -> broadcast::Receiver<ControlEvent>;
    /// Whether this session may be told `event` (the gate's say on what goes down).
    fn may_receive(&self, event: &ControlEvent) -> bool;
    /// A new receiver of the phone's sound (20 ms Opus packets, sounding ones only).
    fn subscribe_audio(&self) -> broadcast::Receiver<Arc<AudioPacket>>;
    /// Passes the viewer's decoded camera picture or microphone samples through the gate to
    /// the phone. Called from the camera's decoding thread as well as the session's task.
    fn deliver_media(&self, media: UpstreamMedia) -> Result<(), ApiError>;
}

/// The viewer's media on its way up, decoded.
#[derive(Debug)]
pub enum UpstreamMedia {
    /// A picture from the viewer's camera.
    Camera(DecodedPicture),
    /// Microphone samples, mono at 48 kHz.
    Microphone(Vec<i16>),
}

impl UpstreamMedia {
    /// The input category the gate judges this by.
    pub fn category(&self) -> InputCategory {
        match self {
            UpstreamMedia::Camera(_) => InputCategory::Camera,
            UpstreamMedia::Microphone(_) => InputCategory::Microphone,
        }
    }
}

/// Why a session could not be set up.
#[derive(Debug, thiserror::Error)]
pub enum GatewayError {
    /// The offer is not valid SDP or cannot be answered.
    #[error("{0}")]
    BadOffer(String),
    /// The phone's screen has no encoder for the session (no thread could be started).
    #[error("the phone's screen cannot be encoded now")]
    NoEncoder,
    /// No UDP socket could be opened.
    #[error("cannot open a UDP socket on {addr}: {source}")]
    Socket {
        /// The address tried.
        addr: IpAddr,
        /// The error.
        source: std::io::Error,
    },
}

impl From<GatewayError> for ApiError {
    fn from(e: GatewayError) -> Self {
        match e {
            GatewayError::BadOffer(m) => ApiError::with_message(ErrorCode::SignallingBadOffer, m),
            GatewayError::Socket { .. } | GatewayError::NoEncoder => {
                ApiError::with_message(ErrorCode::Internal, e.to_string())
            }
        }
    }
}

/// Creates WebRTC sessions.
pub struct Gateway {
    bind_ip: IpAddr,
    /// Whether sessions run TWCC bandwidth estimation (see [`Gateway::with_twcc`]).
    twcc: bool,
    crypto: Arc<str0m::config::CryptoProvider>,
    open: Arc<AtomicUsize>,
    totals: Arc<GatewayTotals>,
}

/// How one session is run.
#[derive(Debug)]
pub struct SessionOptions {
    /// Turns `true` when the server ends the session (its token was revoked).
    pub end: tokio::sync::watch::Receiver<bool>,
    /// How long the session may go without user input before it is recycled.
    pub idle_timeout: Duration,
    /// The video quality the session starts with (a `quality` message changes it).
    pub quality: StreamQuality,
}

/// How long before an idle session is recycled the viewer is warned: 30 s, or half the
/// timeout when that is shorter.
fn idle_warning_lead(timeout: Duration) -> Duration {
    (timeout / 2).min(Duration::from_secs(30))
}

/// Counters over every session, for metrics.
#[derive(Debug, Default)]
pub struct GatewayTotals {
    /// Video pictures sent to viewers.
    pub frames_sent: AtomicU64,
    /// Video bytes sent to viewers (payload, before RTP).
    pub video_bytes_sent: AtomicU64,
    /// Statistics reports made (one per session every 2 s).
    pub stats_reports: AtomicU64,
    /// The sum of the round-trip times reported, microseconds (divide by `rtt_samples`).
    pub rtt_us_sum: AtomicU64,
    /// How many round-trip times were reported.
    pub rtt_samples: AtomicU64,
    /// Opus packets of the phones' sound sent to viewers.
    pub audio_packets_sent: AtomicU64,
    /// Pictures decoded from viewers' cameras and passed to the gate.
    pub camera_frames_received: AtomicU64,
    /// Opus packets decoded from viewers' microphones and passed to the gate.
    pub microphone_packets_received: AtomicU64,
}

/// What a session counts between two statistics reports.
#[derive(Debug, Default)]
struct SessionStats {
    frames: u64,
    bytes: u64,
    audio_bytes: u64,
    encode_us: u64,
    size: (u32, u32),
    rtt: Option<Duration>,
    loss: Option<f32>,
    bandwidth_bps: Option<u64>,
    since: Option<Instant>,
}

impl Gateway {
    /// A gateway whose sessions use UDP on `bind_ip` (also the address given to viewers).
    pub fn new(bind_ip: IpAddr) -> Gateway {
        Gateway {
            bind_ip,
            twcc: false,
            crypto: Arc::new(str0m::crypto::from_feature_flags()),
            open: Arc::default(),
            totals: Arc::default(),
        }
    }

    /// Runs transport-wide congestion control (TWCC, delay-based) in every session, on top of
    /// the loss-based estimate every session has. It reacts to queues before loss, but its
    /// pacer costs CPU and latency (measured in `target/bench-reports/viewers.md`), so it is
    /// off unless asked for (`up --twcc`).
    pub fn with_twcc(mut self, on: bool) -> Gateway {
        self.twcc = on;
        self
    }

    /// Counters over every session so far.
    pub fn totals(&self) -> &GatewayTotals {
        &self.totals
    }

    /// Sessions running now (answered and not yet ended).
    pub fn open_sessions(&self) -> usize {
        self.open.load(Ordering::Relaxed)
    }

    /// Answers a viewer's SDP offer and starts the session. Returns the SDP answer. The session
    /// ends when the viewer goes, when `options.end` turns `true` (its token was revoked, say),
    /// or after `options.idle_timeout` without user input (with a warning event before).
    pub async fn accept(
        &self,
        offer_sdp: &str,
        link: Arc<dyn PhoneLink>,
        options: SessionOptions,
    ) -> Result<String, GatewayError> {
        let offer = SdpOffer::from_sdp_string(offer_sdp)
            .map_err(|e| GatewayError::BadOffer(format!("invalid SDP offer: {e}")))?;
        let socket = UdpSocket::bind(SocketAddr::new(self.bind_ip, 0))
            .await
            .map_err(|source| GatewayError::Socket { addr: self.bind_ip, source })?;
        let local = socket.local_addr().map_err(|source| GatewayError::Socket { addr: self.bind_ip, source })?;
        let mut config = RtcConfig::new()
            .set_crypto_provider(self.crypto.clone())
            .clear_codecs()
            .enable_h264(true)
            .enable_opus(true, false)
            .set_stats_interval(Some(STATS_INTERVAL));
        if self.twcc {
            // The estimate starts above the chosen bitrate, so a session starts at its quality
            // and steps down only on evidence.
            config = config.enable_bwe(Some(Bitrate::kbps(u64::from(options.quality.bitrate_kbps) * 3 / 2)));
        }
        let mut rtc = config.build(Instant::now());
        if self.twcc {
            // Probe no higher than the chosen bitrate: a static screen sends almost nothing, and
            // padding to prove bandwidth it does not need would waste the viewer's.
            let desired = Bitrate::kbps(u64::from(options.quality.bitrate_kbps));
            rtc.bwe().set_bitrate(Bitrate::kbps(100), desired);
        }
        let candidate = Candidate::host(local, "udp").map_err(|e| GatewayError::BadOffer(e.to_string()))?;
        rtc.add_local_candidate(candidate);
        let answer = rtc
            .sdp_api()
            .accept_offer(offer)
            .map_err(|e| GatewayError::BadOffer(format!("cannot answer the offer: {e}")))?;
        let video = link.subscribe_video(options.quality).ok_or(GatewayError::NoEncoder)?;
        let audio = link.subscribe_audio();
        let totals = self.totals.clone();
        let open = self.open.clone();
        open.fetch_add(1, Ordering::Relaxed);
        tokio::spawn(async move {
            Session::new(rtc, socket, local, link, (video, audio), options, totals).run().await;
            open.fetch_sub(1, Ordering::Relaxed);
        });
        Ok(answer.to_sdp_string())
    }
}

/// The decoder of an upstream track (camera, microphone): started by the track's first packet,
/// shut for the rest of the session when the gate refuses the track or no decoder starts.
enum Upstream<T> {
    Waiting,
    Open(T),
    Shut,
}

impl<T> Upstream<T> {
    /// The running decoder, started with `start` on first use; `None` once shut.
    fn open_with<E: std::fmt::Display>(&mut self, what: &str, start: impl FnOnce() -> Result<T, E>) -> Option<&mut T> {
        if let Upstream::Waiting = self {
            *self = match start() {
                Ok(decoder) => Upstream::Open(decoder),
                Err(e) => {
                    tracing::warn!(error = %e, "cannot start a {what} decoder");
                    Upstream::Shut
                }
            };
        }
        match self {
            Upstream::Open(decoder) => Some(decoder),
            _ => None,
        }
    }
}

/// One viewer's session.
struct Session {
    rtc: Rtc,
    socket: UdpSocket,
    local: SocketAddr,
    link: Arc<dyn PhoneLink>,
    video: broadcast::Receiver<Arc<EncodedFrame>>,
    audio: broadcast::Receiver<Arc<AudioPacket>>,
    /// The phone's events, for the control channel.
    events: broadcast::Receiver<ControlEvent>,
    /// The quality the viewer chose.
    quality: StreamQuality,
    /// The bitrate streamed now: the chosen one, or a lower ladder step while bandwidth is short.
    bitrate_kbps: u32,
    /// When the bitrate last changed (steps up wait a while after any change).
    bitrate_changed: Instant,
    /// How long the session may go without user input.
    idle_timeout: Duration,
    /// When the viewer last acted (touch, key, text, clipboard); the session's start before.
    last_input: Instant,
    /// Whether the viewer was warned of the coming idle recycle.
    warned: bool,
    /// What the next statistics report is made from.
    stats: SessionStats,
    /// Totals over every session, for metrics.
    totals: Arc<GatewayTotals>,
    /// Becomes `true` when the session must end (`None` once nobody can say so any more).
    end: Option<tokio::sync::watch::Receiver<bool>>,
    video_mid: Option<Mid>,
    /// The audio media: the phone's sound down, and the viewer's microphone up if it sends one.
    audio_mid: Option<Mid>,
    /// The video media the viewer sends its camera on.
    camera_mid: Option<Mid>,
    /// Decodes the microphone (refused: its packets are dropped undecoded).
    microphone: Upstream<AudioDecoder>,
    /// The camera's decoding thread.
    camera: Upstream<CameraFeed>,
    /// What the camera thread reports back.
    camera_notes: (tokio::sync::mpsc::UnboundedSender<CameraNote>, tokio::sync::mpsc::UnboundedReceiver<CameraNote>),
    control: Option<ChannelId>,
    connected: bool,
    /// Deltas are useless until the viewer has a keyframe; skip them until one comes.
    awaiting_keyframe: bool,
    started: Instant,
}

impl Session {
    fn new(
        rtc: Rtc,
        socket: UdpSocket,
        local: SocketAddr,
        link: Arc<dyn PhoneLink>,
        (video, audio): (broadcast::Receiver<Arc<EncodedFrame>>, broadcast::Receiver<Arc<AudioPacket>>),
        options: SessionOptions,
        totals: Arc<GatewayTotals>,
    ) -> Session {
        let events = link.subscribe_events();
        Session {
            events,
            stats: SessionStats::default(),
            totals,
            rtc,
            socket,
            local,
            link,
            video,
            audio,
            end: Some(options.end),
            quality: options.quality,
            bitrate_kbps: options.quality.bitrate_kbps,
            bitrate_changed: Instant::now(),
            idle_timeout: options.idle_timeout,
            last_input: Instant::now(),
            warned: false,
            video_mid: None,
            audio_mid: None,
            camera_mid: None,
            microphone: Upstream::Waiting,
            camera: Upstream::Waiting,
            camera_notes: tokio::sync::mpsc::unbounded_channel(),
            control: None,
            connected: false,
            awaiting_keyframe: true,
            started: Instant::now(),
        }
    }

    /// Resolves when the end flag changes; never, once its sender is gone.
    async fn end_changed(
        end: &mut Option<tokio::sync::watch::Receiver<bool>>,
    ) -> Result<(), tokio::sync::watch::error::RecvError> {
        match end {
            Some(end) => end.changed().await,
            None => std::future::pending().await,
        }
    }

    async fn run(mut self) {
        let mut buf = vec![0u8; 2048];
        loop {
            if self.end.as_ref().is_some_and(|end| *end.borrow()) {
                tracing::info!("viewer session ended by the server");
                self.end_with("revoked");
                break;
            }
            let idle = self.last_input.elapsed();
            if idle >= self.idle_timeout {
                tracing::info!(idle_s = idle.as_secs(), "viewer session recycled as idle");
                self.end_with("idle");
                break;
            }
            let lead = idle_warning_lead(self.idle_timeout);
            if !self.warned && idle + lead >= self.idle_timeout {
                self.warned = true;
                let seconds_left = (self.idle_timeout - idle).as_secs_f64().ceil() as u32;
                self.send_event(&ControlEvent::IdleWarning { seconds_left });
            }
            let deadline = match self.drain().await {
                Some(deadline) => deadline,
                None => break,
            };
            if !self.connected && self.started.elapsed() > CONNECT_TIMEOUT {
                tracing::info!("viewer did not connect in time");
                break;
            }
            let wake = deadline.min(self.next_idle_check());
            let input = tokio::select! {
                received = self.socket.recv_from(&mut buf) => match received {
                    Ok((n, source)) => match buf[..n].try_into() {
                        Ok(contents) => Input::Receive(Instant::now(), Receive { proto: Protocol::Udp, source, destination: self.local, contents }),
                        // Not a datagram str0m understands (stray traffic): ignore it.
                        Err(_) => continue,
                    },
                    Err(e) => {
                        tracing::warn!(error = %e, "UDP receive failed");
                        continue;
                    }
                },
                frame = self.video.recv() => {
                    match frame {
                        Ok(frame) => self.send_video(&frame),
                        Err(RecvError::Lagged(skipped)) => {
                            // Memory stays bounded: the viewer skips to a keyframe, at a lower
                            // bitrate so it can keep up.
                            tracing::debug!(skipped, "viewer fell behind; a keyframe, at a lower bitrate");
                            match lower_step(self.bitrate_kbps) {
                                Some(lower) => self.set_bitrate(lower, "lagging"),
                                None => {
                                    self.awaiting_keyframe = true;
                                    self.link.request_keyframe(self.stream_quality());
                                }
                            }
                        }
                        Err(RecvError::Closed) => break,
                    }
                    continue;
                }
                _ = tokio::time::sleep_until(wake.into()) => Input::Timeout(Instant::now()),
                packet = self.audio.recv() => {
                    match packet {
                        Ok(packet) => self.send_audio(&packet),
                        // Late sound is no use: skip what was missed.
                        Err(RecvError::Lagged(_)) => {}
                        Err(RecvError::Closed) => break,
                    }
                    continue;
                }
                Some(note) = self.camera_notes.1.recv() => {
                    self.on_camera_note(note);
                    continue;
                }
                event = self.events.recv() => {
                    match event {
                        Ok(event) if self.link.may_receive(&event) => self.send_event(&event),
                        // Refused by the gate, or missed while the viewer lagged: events are
                        // state changes, and the next one carries the news.
                        Ok(_) | Err(RecvError::Lagged(_)) => {}
                        Err(RecvError::Closed) => break,
                    }
                    continue;
                }
                // The flag is checked at the top of the loop; a dropped sender ends nothing.
                changed = Self::end_changed(&mut self.end) => {
                    if changed.is_err() {
                        self.end = None;
                    }
                    continue;
                }
            };
            if let Err(e) = self.rtc.handle_input(input) {
                tracing::warn!(error = %e, "session input failed; closing");
                break;
            }
        }
        self.rtc.disconnect();
        tracing::info!("viewer session ended");
    }

    /// Sends everything str0m wants sent and handles its events. Returns when str0m next needs
    /// time, or `None` when the session is over.
    async fn drain(&mut self) -> Option<Instant> {
        loop {
            match self.rtc.poll_output() {
                Ok(Output::Timeout(at)) => return Some(at),
                Ok(Output::Transmit(t)) => {
                    if let Err(e) = self.socket.send_to(&t.contents, t.destination).await {
                        tracing::debug!(error = %e, to = %t.destination, "UDP send failed");
                    }
                }
                Ok(Output::Event(event)) => {
                    if !self.on_event(event) {
                        return None;
                    }
                }
                Err(e) => {
                    tracing::warn!(error = %e, "session failed");
                    return None;
                }
            }
        }
    }

    /// Handles one event; `false` ends the session.
    fn on_event(&mut self, event: Event) -> bool {
        match event {
            Event::Connected => {
                self.connected = true;
                self.awaiting_keyframe = true;
                self.link.request_keyframe(self.stream_quality());
            }
            Event::IceConnectionStateChange(IceConnectionState::Disconnected) | Event::Closed => return false,
            // The viewer's offer has the screen (video we send), its camera (video we receive)
            // and sound (audio we send, and receive when it sends its microphone).
            Event::MediaAdded(m) if m.kind == MediaKind::Video && m.direction.is_sending() => {
                self.video_mid = Some(m.mid)
            }
            Event::MediaAdded(m) if m.kind == MediaKind::Video && m.direction.is_receiving() => {
                self.camera_mid = Some(m.mid)
            }
            Event::MediaAdded(m) if m.kind == MediaKind::Audio => self.audio_mid = Some(m.mid),
            Event::MediaData(data) if Some(data.mid) == self.camera_mid => self.on_camera_data(data),
            Event::MediaData(data) if Some(data.mid) == self.audio_mid => self.on_microphone_data(&data),
            Event::KeyframeRequest(_) => self.link.request_keyframe(self.stream_quality()),
            Event::EgressBitrateEstimate(BweKind::Twcc { estimate, .. }) => {
                self.stats.bandwidth_bps = Some(estimate.as_u64());
            }
            Event::PeerStats(peer) => {
                self.stats.rtt = peer.rtt.or(self.stats.rtt);
                self.stats.loss = peer.egress_loss_fraction.or(self.stats.loss);
                self.stats.bandwidth_bps = peer.bwe_tx.map(|b| b.as_u64()).or(self.stats.bandwidth_bps);
            }
            Event::MediaEgressStats(media) => {
                self.stats.rtt = media.rtt.or(self.stats.rtt);
                self.stats.loss = media.loss.or(self.stats.loss);
                self.report_stats();
            }
            Event::ChannelOpen(id, label) if label == CONTROL_CHANNEL_LABEL => self.control = Some(id),
            Event::ChannelData(data) if Some(data.id) == self.control => {
                let outcome = ControlMessage::parse(&data.data)
                    .map_err(|e| ApiError::with_message(ErrorCode::ControlInvalidMessage, e))
                    .and_then(|message| {
                        if message.is_user_input() {
                            self.last_input = Instant::now();
                            self.warned = false;
                        }
                        match message {
                            // The session's own business: it never reaches the phone.
                            ControlMessage::Quality { resolution, fps, bitrate } => {
                                self.set_quality(resolution, fps, bitrate)
                            }
                            message => self.link.deliver(message),
                        }
                    });
                if let Err(e) = outcome {
                    self.send_error(&e);
                }
            }
            _ => {}
        }
        true
    }

    /// What the viewer is streamed now: its quality at the bitrate bandwidth allows.
    fn stream_quality(&self) -> StreamQuality {
        self.quality.at_bitrate(self.bitrate_kbps)
    }

    /// A `quality` message: the profile ids given change, the bitrate starts at the new choice.
    fn set_quality(&mut self, resolution: Option<u8>, fps: Option<u8>, bitrate: Option<u8>) -> Result<(), ApiError> {
        let quality = self
            .quality
            .with_ids(resolution, fps, bitrate)
            .map_err(|e| ApiError::with_message(ErrorCode::ControlRejected, e))?;
        self.quality = quality;
        self.bitrate_kbps = quality.bitrate_kbps;
        // Estimates come only when TWCC runs; then it probes up to the new choice.
        if self.stats.bandwidth_bps.is_some() {
            self.rtc.bwe().set_bitrate(Bitrate::kbps(100), Bitrate::kbps(u64::from(quality.bitrate_kbps)));
        }
        self.resubscribe("requested");
        Ok(())
    }

    /// Moves along the bitrate ladder as [`next_bitrate`] decides.
    fn adapt_bitrate(&mut self, link: LinkReport) {
        let since = self.bitrate_changed.elapsed();
        if let Some(kbps) = next_bitrate(self.bitrate_kbps, self.quality.bitrate_kbps, link, since) {
            self.set_bitrate(kbps, "bandwidth");
        }
    }

    fn set_bitrate(&mut self, kbps: u32, reason: &str) {
        self.bitrate_kbps = kbps;
        self.bitrate_changed = Instant::now();
        self.resubscribe(reason);
    }

    /// Moves the viewer to the encoder of its stream quality now, starting at a keyframe, and
    /// tells it.
    fn resubscribe(&mut self, reason: &str) {
        let quality = self.stream_quality();
        match self.link.subscribe_video(quality) {
            Some(video) => self.video = video,
            None => {
                let error = ApiError::with_message(ErrorCode::Internal, "the screen cannot be encoded at this quality");
                self.send_error(&error);
                return;
            }
        }
        self.awaiting_keyframe = true;
        self.link.request_keyframe(quality);
        let (width, height) = self.link.screen_size();
        let (width, height) = quality.fit(width, height);
        self.send_event(&ControlEvent::Quality {
            width,
            height,
            max_fps: quality.max_fps,
            bitrate_kbps: quality.bitrate_kbps,
            reason: reason.to_owned(),
        });
    }

    /// When the idle rules next need a look: the warning, or the recycle.
    fn next_idle_check(&self) -> Instant {
        let recycle = self.last_input + self.idle_timeout;
        if self.warned { recycle } else { recycle - idle_warning_lead(self.idle_timeout) }
    }

    /// Tells the viewer why the session ends, and gives the message a moment to go out.
    fn end_with(&mut self, reason: &str) {
        self.send_event(&ControlEvent::SessionEnded { reason: reason.to_owned() });
        // Flush what str0m has queued (the event) before the connection closes.
        while let Ok(Output::Transmit(t)) = self.rtc.poll_output() {
            let _ = self.socket.try_send_to(&t.contents, t.destination);
        }
    }

    /// Sends the viewer what happened since the last report, and starts counting afresh.
    fn report_stats(&mut self) {
        let now = Instant::now();
        let since = self.stats.since.replace(now).unwrap_or(self.started);
        let seconds = now.duration_since(since).as_secs_f64().max(0.001);
        let kbps = |bytes: u64| bytes as f64 * 8.0 / 1000.0 / seconds;
        let s = &mut self.stats;
        let event = ControlEvent::Stats {
            rtt_ms: s.rtt.map(|r| r.as_secs_f64() * 1000.0),
            loss: s.loss.map(f64::from),
            fps: s.frames as f64 / seconds,
            bitrate_kbps: kbps(s.bytes),
            audio_kbps: kbps(s.audio_bytes),
            bandwidth_kbps: s.bandwidth_bps.map(|b| b as f64 / 1000.0),
            codec: "H264".into(),
            width: s.size.0,
            height: s.size.1,
            encode_ms: (s.frames > 0).then(|| s.encode_us as f64 / 1000.0 / s.frames as f64),
            decode_ms: match &self.camera {
                Upstream::Open(feed) => feed.take_decode_ms(),
                _ => None,
            },
        };
        if let Some(rtt) = s.rtt {
            self.totals.rtt_us_sum.fetch_add(rtt.as_micros() as u64, Ordering::Relaxed);
            self.totals.rtt_samples.fetch_add(1, Ordering::Relaxed);
        }
        self.totals.stats_reports.fetch_add(1, Ordering::Relaxed);
        let sent_kbps = kbps(s.bytes + s.audio_bytes);
        let loss = s.loss.unwrap_or(0.0);
        // TWCC's estimate when it runs; else the loss-based one from the viewer's reports.
        let link = LinkReport {
            estimate_bps: s.bandwidth_bps.unwrap_or_else(|| loss_based_estimate_bps(sent_kbps, loss)),
            sent_kbps,
            loss,
        };
        (s.frames, s.bytes, s.audio_bytes, s.encode_us) = (0, 0, 0, 0);
        self.send_event(&event);
        self.adapt_bitrate(link);
    }

    fn send_error(&mut self, error: &ApiError) {
        self.send_event(&ControlEvent::Error { code: error.code.code().to_owned(), message: error.message.clone() });
    }

    /// Writes an event on the control channel, if it is open.
    fn send_event(&mut self, event: &ControlEvent) {
        let Some(mut channel) = self.control.and_then(|id| self.rtc.channel(id)) else { return };
        let _ = channel.write(false, event.to_json().as_bytes());
    }

    /// Sends one packet of the phone's sound, if the viewer takes audio.
    fn send_audio(&mut self, packet: &AudioPacket) {
        if !self.connected {
            return;
        }
        let Some(mid) = self.audio_mid else { return };
        let Some(writer) = self.rtc.writer(mid) else { return };
        let Some(pt) = writer.payload_params().find(|p| p.spec().codec == Codec::Opus).map(|p| p.pt()) else {
            return;
        };
        let rtp_time = MediaTime::new(packet.position, Frequency::FORTY_EIGHT_KHZ);
        match writer.write(pt, Instant::now(), rtp_time, packet.data.clone()) {
            Ok(()) => {
                self.stats.audio_bytes += packet.data.len() as u64;
                self.totals.audio_packets_sent.fetch_add(1, Ordering::Relaxed);
            }
            Err(e) => tracing::debug!(error = %e, "audio write failed"),
        }
    }

    /// One access unit of the viewer's camera: to the decoding thread, unless the gate has
    /// refused the camera or the thread is behind.
    fn on_camera_data(&mut self, data: MediaData) {
        let (link, notes, totals) = (&self.link, &self.camera_notes.0, &self.totals);
        let Some(feed) =
            self.camera.open_with("camera", || CameraFeed::start(link.clone(), notes.clone(), totals.clone()))
        else {
            return;
        };
        // A gap in the packets, or the decoder behind (this one is dropped): start again from
        // a keyframe.
        let behind = matches!(feed.units.try_send(data.data), Err(std::sync::mpsc::TrySendError::Full(_)));
        if !data.contiguous || behind {
            self.request_camera_keyframe();
        }
    }

    fn on_camera_note(&mut self, note: CameraNote) {
        match note {
            CameraNote::NeedKeyframe => self.request_camera_keyframe(),
            CameraNote::Refused(error) => {
                self.camera = Upstream::Shut;
                self.send_error(&error);
            }
        }
    }

    fn request_camera_keyframe(&mut self) {
        let Some(mut writer) = self.camera_mid.and_then(|mid| self.rtc.writer(mid)) else { return };
        if writer.is_request_keyframe_possible(KeyframeRequestKind::Pli) {
            let _ = writer.request_keyframe(None, KeyframeRequestKind::Pli);
        }
    }

    /// One packet of the viewer's microphone: decoded and passed to the gate, unless refused.
    fn on_microphone_data(&mut self, data: &MediaData) {
        if data.params.spec().codec != Codec::Opus {
            return;
        }
        let Some(decoder) = self.microphone.open_with("microphone", AudioDecoder::new) else { return };
        let samples = match decoder.decode(&data.data) {
            Ok(samples) => samples.to_vec(),
            Err(e) => {
                tracing::debug!(error = %e, "microphone packet not decodable");
                return;
            }
        };
        match self.link.deliver_media(UpstreamMedia::Microphone(samples)) {
            Ok(()) => {
                self.totals.microphone_packets_received.fetch_add(1, Ordering::Relaxed);
            }
            Err(e) => {
                self.microphone = Upstream::Shut;
                self.send_error(&e);
            }
        }
    }

    fn send_video(&mut self, frame: &EncodedFrame) {
        if !self.connected {
            return;
        }
        if self.awaiting_keyframe && !frame.keyframe {
            return;
        }
        let Some(mid) = self.video_mid else { return };
        let Some(writer) = self.rtc.writer(mid) else { return };
        // Prefer Constrained Baseline in packetization mode 1: exactly what openh264 makes.
        let pt = writer
            .payload_params()
            .filter(|p| p.spec().codec == Codec::H264 && p.spec().format.packetization_mode == Some(1))
            .max_by_key(|p| p.spec().format.profile_level_id == Some(0x42e01f))
            .map(|p| p.pt());
        let Some(pt) = pt else {
            tracing::warn!("viewer negotiated no usable H.264");
            return;
        };
        let rtp_time = MediaTime::from_90khz(frame.timestamp_us * 9 / 100);
        match writer.write(pt, Instant::now(), rtp_time, frame.data.clone()) {
            Ok(()) => {
                self.awaiting_keyframe = false;
                self.stats.frames += 1;
                self.stats.bytes += frame.data.len() as u64;
                self.stats.encode_us += u64::from(frame.encode_us);
                self.stats.size = (frame.width, frame.height);
                self.totals.frames_sent.fetch_add(1, Ordering::Relaxed);
                self.totals.video_bytes_sent.fetch_add(frame.data.len() as u64, Ordering::Relaxed);
            }
            Err(e) => tracing::debug!(error = %e, "video write failed"),
        }
    }
}
