//! The native streaming client: opens a session with a session token over WebRTC (str0m), decodes
//! the phone's H.264 video (openh264) and Opus sound, and sends control messages, camera
//! pictures and microphone sound, as the browser SDK does.
//!
//! ```no_run
//! # async fn demo(client: cloudphone_sdk::Client) -> Result<(), Box<dyn std::error::Error>> {
//! use cloudphone_sdk::viewer::{Viewer, ViewerEvent};
//! let grant = client.create_session("cp-1a2b", &Default::default()).await?;
//! let mut viewer = Viewer::connect(&grant.signalling_url, &grant.session_token).await?;
//! while let Some(event) = viewer.next_event(std::time::Duration::from_secs(5)).await? {
//!     if let ViewerEvent::Frame(frame) = event {
//!         println!("{}x{}", frame.width, frame.height);
//!         break;
//!     }
//! }
//! # Ok(()) }
//! ```

use std::io::Write;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, Instant};

use cloudphone_media::audio::{FRAME_SAMPLES, SAMPLE_RATE};
use cloudphone_media::{AudioDecoder, AudioEncoder, EncoderSettings, VideoEncoder};
use cloudphone_protocol::ControlMessage;
use cloudphone_protocol::api::{QualityIds, SignallingAnswer, SignallingOffer};
use cloudphone_protocol::audio::{level_dbfs, wav_header};
use cloudphone_protocol::error::ErrorBody;
use openh264::decoder::Decoder;
use openh264::formats::YUVSource;
use str0m::change::SdpAnswer;
use str0m::channel::ChannelId;
use str0m::format::Codec;
use str0m::media::{Direction, Frequency, MediaData, MediaKind, MediaTime, Mid};
use str0m::net::{Protocol, Receive};
use str0m::{Candidate, Event, IceConnectionState, Input, Output, Rtc, RtcConfig};
use tokio::net::UdpSocket;

/// Why the viewer failed.
#[derive(Debug, thiserror::Error)]
pub enum ViewerError {
    /// The signalling request failed or was refused (an expired or revoked token, say).
    #[error("signalling: {0}")]
    Signalling(String),
    /// WebRTC failed (SDP, ICE, DTLS).
    #[error("WebRTC: {0}")]
    Rtc(String),
    /// The UDP socket or the recording file failed.
    #[error("I/O: {0}")]
    Io(#[from] std::io::Error),
    /// A codec could not start, or could not encode what was given.
    #[error("codec: {0}")]
    Decoder(String),
}

impl From<cloudphone_media::MediaError> for ViewerError {
    fn from(e: cloudphone_media::MediaError) -> Self {
        ViewerError::Decoder(e.to_string())
    }
}

/// What a viewer sends besides input: its camera and its microphone. Each is offered to the
/// gateway only when asked for here, and reaches the phone only if the session allows it.
#[derive(Clone, Copy, Debug, Default)]
pub struct ViewerOptions {
    /// Offer a camera track ([`Viewer::send_camera`]).
    pub camera: bool,
    /// Offer a microphone track ([`Viewer::send_microphone`]).
    pub microphone: bool,
}

/// A decoded picture, I420 planes packed without padding.
#[derive(Clone, Debug)]
pub struct DecodedFrame {
    /// Width in pixels.
    pub width: usize,
    /// Height in pixels.
    pub height: usize,
    /// Luma, `width * height` bytes.
    pub y: Vec<u8>,
    /// Blue-difference chroma, a quarter of the luma size.
    pub u: Vec<u8>,
    /// Red-difference chroma, a quarter of the luma size.
    pub v: Vec<u8>,
}

impl DecodedFrame {
    /// The mean luma of each cell of a `columns` x `rows` grid: a cheap fingerprint to tell
    /// whether the picture changed.
    pub fn luma_grid(&self, columns: usize, rows: usize) -> Vec<u8> {
        let mut grid = Vec::with_capacity(columns * rows);
        for row in 0..rows {
            for column in 0..columns {
                let (x0, x1) = (column * self.width / columns, (column + 1) * self.width / columns);
                let (y0, y1) = (row * self.height / rows, (row + 1) * self.height / rows);
                let mut sum = 0u64;
                for y in y0..y1 {
                    sum += self.y[y * self.width + x0..y * self.width + x1].iter().map(|&v| u64::from(v)).sum::<u64>();
                }
                let count = ((x1 - x0) * (y1 - y0)).max(1) as u64;
                grid.push((sum / count) as u8);
            }
        }
        grid
    }
}

/// What happens in a session.
#[derive(Debug)]
pub enum ViewerEvent {
    /// ICE and DTLS are up.
    Connected,
    /// The control channel is open: [`Viewer::send`] works from now on.
    ControlOpen,
    /// A picture was decoded.
    Frame(DecodedFrame),
    /// 20 ms (usually) of the phone's sound was decoded: mono, 48 kHz.
    Audio(Vec<i16>),
    /// The phone or the gateway sent a control event (JSON, see docs/protocol.md).
    Control(String),
    /// The connection dropped and came back with the same token (a new stream, from a keyframe).
    Reconnected,
    /// The session ended.
    Closed,
}

/// Counters of a session.
#[derive(Clone, Debug, Default, serde::Serialize)]
pub struct ViewerStats {
    /// From `connect` to the first decoded picture.
    pub first_frame_ms: Option<u64>,
    /// Pictures decoded.
    pub frames_decoded: u64,
    /// The last picture's width.
    pub width: usize,
    /// The last picture's height.
    pub height: usize,
    /// Encoded video received, bytes.
    pub video_bytes: u64,
    /// Opus packets of the phone's sound received (none while the phone is silent).
    pub audio_packets: u64,
    /// The loudest 20 ms of sound decoded, dBFS (absent before any sound).
    pub audio_peak_dbfs: Option<f32>,
    /// Control events received.
    pub control_events: u64,
    /// Times the connection was made again with the same token.
    pub reconnects: u64,
    /// The server's latest statistics report (a `stats` control event: RTT, fps, bitrate, …).
    pub server_report: Option<cloudphone_protocol::control::ControlEvent>,
}

/// A native viewer of one phone.
pub struct Viewer {
    rtc: Rtc,
    socket: UdpSocket,
    local: SocketAddr,
    control: ChannelId,
    control_open: bool,
    decoder: Decoder,
    started: Instant,
    stats: ViewerStats,
    record: Option<std::io::BufWriter<std::fs::File>>,
    record_audio: Option<WavWriter>,
    audio_decoder: AudioDecoder,
    /// The phone's screen, the camera's track and the sound's, once negotiated.
    mids: Mids,
    camera: Option<(VideoEncoder, Instant)>,
    /// The microphone's encoder, the samples not yet a whole frame, and the next frame's position.
    microphone: Option<(AudioEncoder, Vec<i16>, u64)>,
    buf: Vec<u8>,
    closed: bool,
    /// What a reconnect needs: where, with what, offering what.
    signalling_url: String,
    session_token: String,
    options: ViewerOptions,
    /// The server ended the session (revoked, idle): no reconnect then.
    ended_by_server: bool,
    /// The connection dropped; the next `next_event` reconnects.
    reconnect_due: bool,
    /// The quality ids asked for so far (resolution, fps, bitrate), asked again after a reconnect.
    quality: QualityIds,
}

/// One WebRTC connection of a viewer: what a reconnect replaces.
struct Link {
    rtc: Rtc,
    socket: UdpSocket,
    local: SocketAddr,
    control: ChannelId,
    mids: Mids,
}

impl Link {
    /// Offers video (receive only), sound, the camera if asked, and the control channel, and
    /// sends the offer to `signalling_url` with the session token.
    async fn negotiate(signalling_url: &str, session_token: &str, options: ViewerOptions) -> Result<Link, ViewerError> {
        // A socket on the interface that routes to the server (loopback for a local one).
        let server_ip = reqwest::Url::parse(signalling_url)
            .ok()
            .and_then(|u| u.host_str().and_then(|h| h.trim_matches(['[', ']']).parse::<std::net::IpAddr>().ok()));
        let bind_ip: std::net::IpAddr = match server_ip {
            Some(ip) if ip.is_loopback() => ip,
            Some(ip) => local_ip_towards(ip).await.unwrap_or(std::net::Ipv4Addr::UNSPECIFIED.into()),
            None => std::net::Ipv4Addr::UNSPECIFIED.into(),
        };
        let socket = UdpSocket::bind(SocketAddr::new(bind_ip, 0)).await?;
        let local = socket.local_addr()?;
        let mut rtc = RtcConfig::new()
            .set_crypto_provider(Arc::new(str0m::crypto::from_feature_flags()))
            .clear_codecs()
            .enable_h264(true)
            .enable_opus(true, false)
            .build(Instant::now());
        rtc.add_local_candidate(Candidate::host(local, "udp").map_err(|e| ViewerError::Rtc(e.to_string()))?);
        let mut change = rtc.sdp_api();
        let screen = change.add_media(MediaKind::Video, Direction::RecvOnly, None, None, None);
        let sound = if options.microphone { Direction::SendRecv } else { Direction::RecvOnly };
        let audio = change.add_media(MediaKind::Audio, sound, None, None, None);
        let camera = options.camera.then(|| change.add_media(MediaKind::Video, Direction::SendOnly, None, None, None));
        let control = change.add_channel("control".into());
        let (offer, pending) = change.apply().ok_or_else(|| ViewerError::Rtc("nothing to offer".into()))?;

        let offer = SignallingOffer { kind: Some("offer".into()), sdp: offer.to_sdp_string() };
        let response = reqwest::Client::new()
            .post(signalling_url)
            .bearer_auth(session_token)
            .json(&offer)
            .send()
            .await
            .map_err(|e| ViewerError::Signalling(e.to_string()))?;
        let status = response.status();
        let bytes = response.bytes().await.map_err(|e| ViewerError::Signalling(e.to_string()))?;
        if !status.is_success() {
            let why = serde_json::from_slice::<ErrorBody>(&bytes)
                .map(|b| format!("{}: {}", b.error.code, b.error.message))
                .unwrap_or_else(|_| format!("HTTP {status}"));
            return Err(ViewerError::Signalling(why));
        }
        let answer: SignallingAnswer =
            serde_json::from_slice(&bytes).map_err(|e| ViewerError::Signalling(format!("bad answer: {e}")))?;
        let answer = SdpAnswer::from_sdp_string(&answer.sdp).map_err(|e| ViewerError::Rtc(e.to_string()))?;
        rtc.sdp_api().accept_answer(pending, answer).map_err(|e| ViewerError::Rtc(e.to_string()))?;
        let mids = Mids { screen, camera, audio };
        Ok(Link { rtc, socket, local, control, mids })
    }
}

#[derive(Debug)]
struct Mids {
    screen: Mid,
    camera: Option<Mid>,
    audio: Mid,
}

impl Viewer {
    /// Opens a session: offers video (receive only) and the control channel, and sends the offer
    /// to `signalling_url` with the session token.
    pub async fn connect(signalling_url: &str, session_token: &str) -> Result<Viewer, ViewerError> {
        Viewer::connect_with(signalling_url, session_token, ViewerOptions::default()).await
    }

    /// Opens a session that may also send the viewer's camera and microphone.
    pub async fn connect_with(
        signalling_url: &str,
        session_token: &str,
        options: ViewerOptions,
    ) -> Result<Viewer, ViewerError> {
        let started = Instant::now();
        let link = Link::negotiate(signalling_url, session_token, options).await?;
        Ok(Viewer {
            rtc: link.rtc,
            socket: link.socket,
            local: link.local,
            control: link.control,
            mids: link.mids,
            control_open: false,
            decoder: Decoder::new().map_err(|e| ViewerError::Decoder(e.to_string()))?,
            started,
            stats: ViewerStats::default(),
            record: None,
            record_audio: None,
            audio_decoder: AudioDecoder::new()?,
            camera: None,
            microphone: None,
            buf: vec![0u8; 2048],
            closed: false,
            signalling_url: signalling_url.to_owned(),
            session_token: session_token.to_owned(),
            options,
            ended_by_server: false,
            reconnect_due: false,
            quality: QualityIds::default(),
        })
    }

    /// Connects again with the same session token (no new login): after a network change, or
    /// on its own when the connection drops ([`ViewerEvent::Reconnected`] follows). The
    /// quality chosen is asked for again; recording goes on; counters add up.
    pub async fn reconnect(&mut self) -> Result<(), ViewerError> {
        let link = Link::negotiate(&self.signalling_url, &self.session_token, self.options).await?;
        (self.rtc, self.socket, self.local, self.control, self.mids) =
            (link.rtc, link.socket, link.local, link.control, link.mids);
        // A new stream starts at a keyframe; the camera and microphone start new streams too.
        self.decoder = Decoder::new().map_err(|e| ViewerError::Decoder(e.to_string()))?;
        (self.camera, self.microphone) = (None, None);
        (self.control_open, self.closed, self.reconnect_due) = (false, false, false);
        self.stats.reconnects += 1;
        Ok(())
    }

    /// Writes the video as received (H.264 Annex B) to `path` from now on.
    pub fn record_to(&mut self, path: &std::path::Path) -> Result<(), ViewerError> {
        self.record = Some(std::io::BufWriter::new(std::fs::File::create(path)?));
        Ok(())
    }

    /// Writes the phone's sound as decoded (mono 16-bit 48 kHz WAV) to `path` from now on.
    pub fn record_audio_to(&mut self, path: &std::path::Path) -> Result<(), ViewerError> {
        self.record_audio = Some(WavWriter::create(path)?);
        Ok(())
    }

    /// Sends one picture of the viewer's camera (RGBA, even sizes), H.264-encoded. Needs a
    /// session opened with [`ViewerOptions::camera`].
    pub fn send_camera(&mut self, rgba: &[u8], width: u32, height: u32) -> Result<(), ViewerError> {
        let mid = self.mids.camera.ok_or_else(|| ViewerError::Rtc("the session was opened without a camera".into()))?;
        let (encoder, since) = self.camera.get_or_insert_with(|| {
            (VideoEncoder::new(EncoderSettings { bitrate_bps: 1_500_000, max_fps: 30.0 }), Instant::now())
        });
        let timestamp_us = since.elapsed().as_micros() as u64;
        let frame = encoder.encode(rgba, width, height, timestamp_us)?;
        let writer = self.rtc.writer(mid).ok_or_else(|| ViewerError::Rtc("the camera track is not ready".into()))?;
        let pt = writer
            .payload_params()
            .find(|p| p.spec().codec == Codec::H264 && p.spec().format.packetization_mode == Some(1))
            .map(|p| p.pt())
            .ok_or_else(|| ViewerError::Rtc("no H.264 for the camera".into()))?;
        writer
            .write(pt, Instant::now(), MediaTime::from_90khz(timestamp_us * 9 / 100), frame.data)
            .map_err(|e| ViewerError::Rtc(e.to_string()))
    }

    /// Sends microphone sound (mono, 48 kHz), Opus-encoded in 20 ms packets; a partial frame
    /// waits for the next call. Needs a session opened with [`ViewerOptions::microphone`].
    pub fn send_microphone(&mut self, samples: &[i16]) -> Result<(), ViewerError> {
        if !self.options.microphone {
            return Err(ViewerError::Rtc("the session was opened without a microphone".into()));
        }
        let mid = self.mids.audio;
        let (encoder, pending, position) = match &mut self.microphone {
            Some(microphone) => microphone,
            empty => empty.insert((AudioEncoder::new(32_000)?, Vec::new(), 0)),
        };
        pending.extend_from_slice(samples);
        let mut packets = Vec::new();
        while pending.len() >= FRAME_SAMPLES {
            let frame: Vec<i16> = pending.drain(..FRAME_SAMPLES).collect();
            packets.push((encoder.encode(&frame)?, *position));
            *position += FRAME_SAMPLES as u64;
        }
        for (data, position) in packets {
            // A writer is used up by one write.
            let writer =
                self.rtc.writer(mid).ok_or_else(|| ViewerError::Rtc("the microphone track is not ready".into()))?;
            let pt = writer
                .payload_params()
                .find(|p| p.spec().codec == Codec::Opus)
                .map(|p| p.pt())
                .ok_or_else(|| ViewerError::Rtc("no Opus for the microphone".into()))?;
            let time = MediaTime::new(position, Frequency::FORTY_EIGHT_KHZ);
            writer.write(pt, Instant::now(), time, data).map_err(|e| ViewerError::Rtc(e.to_string()))?;
        }
        Ok(())
    }

    /// Sends a control message (touch, key, text, sensor, location, clipboard) to the phone.
    pub fn send(&mut self, message: &ControlMessage) -> Result<(), ViewerError> {
        if let ControlMessage::Quality { resolution, fps, bitrate } = message {
            let q = &mut self.quality;
            (q.resolution, q.fps, q.bitrate) = (resolution.or(q.resolution), fps.or(q.fps), bitrate.or(q.bitrate));
        }
        let json = serde_json::to_vec(message).map_err(|e| ViewerError::Rtc(e.to_string()))?;
        let mut channel =
            self.rtc.channel(self.control).ok_or_else(|| ViewerError::Rtc("the control channel is not open".into()))?;
        channel.write(false, &json).map_err(|e| ViewerError::Rtc(e.to_string()))?;
        Ok(())
    }

    /// Asks the phone for a keyframe of its screen now (a still screen sends no pictures).
    pub fn request_keyframe(&mut self) -> Result<(), ViewerError> {
        let mut writer =
            self.rtc.writer(self.mids.screen).ok_or_else(|| ViewerError::Rtc("the screen is not negotiated".into()))?;
        writer
            .request_keyframe(None, str0m::media::KeyframeRequestKind::Pli)
            .map_err(|e| ViewerError::Rtc(e.to_string()))
    }

    /// Whether [`Viewer::send`] can be used.
    pub fn control_open(&self) -> bool {
        self.control_open
    }

    /// The counters so far.
    pub fn stats(&self) -> &ViewerStats {
        &self.stats
    }

    /// Drives the session until it has something to say, or `limit` passes (`None`).
    pub async fn next_event(&mut self, limit: Duration) -> Result<Option<ViewerEvent>, ViewerError> {
        if self.reconnect_due {
            return match self.reconnect().await {
                Ok(()) => Ok(Some(ViewerEvent::Reconnected)),
                Err(e) => {
                    self.closed = true;
                    Err(e)
                }
            };
        }
        if self.closed {
            return Ok(Some(ViewerEvent::Closed));
        }
        let deadline = Instant::now() + limit;
        loop {
            let timeout = loop {
                match self.rtc.poll_output().map_err(|e| ViewerError::Rtc(e.to_string()))? {
                    Output::Timeout(t) => break t,
                    Output::Transmit(t) => {
                        self.socket.send_to(&t.contents, t.destination).await?;
                    }
                    Output::Event(event) => {
                        if let Some(event) = self.on_event(event)? {
                            return Ok(Some(event));
                        }
                    }
                }
            };
            if Instant::now() >= deadline {
                return Ok(None);
            }
            let wait = timeout.min(deadline);
            let input = tokio::select! {
                received = self.socket.recv_from(&mut self.buf) => {
                    let (n, source) = received?;
                    match self.buf[..n].try_into() {
                        Ok(contents) => Input::Receive(
                            Instant::now(),
                            Receive { proto: Protocol::Udp, source, destination: self.local, contents },
                        ),
                        Err(_) => continue,
                    }
                }
                _ = tokio::time::sleep_until(wait.into()) => Input::Timeout(Instant::now()),
            };
            self.rtc.handle_input(input).map_err(|e| ViewerError::Rtc(e.to_string()))?;
        }
    }

    fn on_event(&mut self, event: Event) -> Result<Option<ViewerEvent>, ViewerError> {
        Ok(match event {
            Event::Connected => Some(ViewerEvent::Connected),
            // A dropped connection comes back with the same token, unless the server ended it.
            Event::IceConnectionStateChange(IceConnectionState::Disconnected) if !self.ended_by_server => {
                self.reconnect_due = true;
                None
            }
            Event::IceConnectionStateChange(IceConnectionState::Disconnected) => {
                self.closed = true;
                Some(ViewerEvent::Closed)
            }
            Event::ChannelOpen(id, _) if id == self.control => {
                self.control_open = true;
                // After a reconnect, the quality chosen before.
                if self.quality != QualityIds::default() {
                    let QualityIds { resolution, fps, bitrate } = self.quality;
                    self.send(&ControlMessage::Quality { resolution, fps, bitrate })?;
                }
                Some(ViewerEvent::ControlOpen)
            }
            Event::ChannelData(data) => {
                self.stats.control_events += 1;
                let text = String::from_utf8_lossy(&data.data).into_owned();
                match serde_json::from_str(&text) {
                    Ok(report @ cloudphone_protocol::control::ControlEvent::Stats { .. }) => {
                        self.stats.server_report = Some(report)
                    }
                    Ok(cloudphone_protocol::control::ControlEvent::SessionEnded { .. }) => self.ended_by_server = true,
                    _ => {}
                }
                Some(ViewerEvent::Control(text))
            }
            Event::ChannelClose(id) if id == self.control => {
                self.closed = true;
                Some(ViewerEvent::Closed)
            }
            Event::MediaData(data) if data.params.spec().codec == Codec::Opus => self.on_audio(&data)?,
            Event::MediaData(data) if data.mid == self.mids.screen => {
                self.stats.video_bytes += data.data.len() as u64;
                if let Some(record) = &mut self.record {
                    record.write_all(&data.data)?;
                    record.flush()?;
                }
                match self.decoder.decode(&data.data) {
                    Ok(Some(yuv)) => {
                        let frame = copy_frame(&yuv);
                        self.stats.frames_decoded += 1;
                        (self.stats.width, self.stats.height) = (frame.width, frame.height);
                        if self.stats.first_frame_ms.is_none() {
                            self.stats.first_frame_ms = Some(self.started.elapsed().as_millis() as u64);
                        }
                        Some(ViewerEvent::Frame(frame))
                    }
                    // A partial or undecodable access unit: the next keyframe repairs it.
                    Ok(None) | Err(_) => None,
                }
            }
            _ => None,
        })
    }
}

impl Viewer {
    fn on_audio(&mut self, data: &MediaData) -> Result<Option<ViewerEvent>, ViewerError> {
        self.stats.audio_packets += 1;
        let samples = match self.audio_decoder.decode(&data.data) {
            Ok(samples) => samples.to_vec(),
            // A damaged packet: the next one is independent enough to go on.
            Err(_) => return Ok(None),
        };
        let level = level_dbfs(&samples);
        self.stats.audio_peak_dbfs = Some(self.stats.audio_peak_dbfs.map_or(level, |peak| peak.max(level)));
        if let Some(wav) = &mut self.record_audio {
            wav.append(&samples)?;
        }
        Ok(Some(ViewerEvent::Audio(samples)))
    }
}

/// A mono 16-bit 48 kHz WAV file whose header is kept true after every append, so it is
/// playable however the program ends.
struct WavWriter {
    file: std::fs::File,
    data_bytes: u32,
}

impl WavWriter {
    fn create(path: &std::path::Path) -> std::io::Result<WavWriter> {
        let mut file = std::fs::File::create(path)?;
        file.write_all(&wav_header(SAMPLE_RATE, 0))?;
        Ok(WavWriter { file, data_bytes: 0 })
    }

    fn append(&mut self, samples: &[i16]) -> std::io::Result<()> {
        use std::io::{Seek, SeekFrom};
        let bytes: Vec<u8> = samples.iter().flat_map(|s| s.to_le_bytes()).collect();
        self.file.seek(SeekFrom::End(0))?;
        self.file.write_all(&bytes)?;
        self.data_bytes = self.data_bytes.saturating_add(bytes.len() as u32);
        self.file.seek(SeekFrom::Start(0))?;
        self.file.write_all(&wav_header(SAMPLE_RATE, self.data_bytes))
    }
}

/// How different two luma grids are: the mean absolute difference of their cells.
fn grid_difference(a: &[u8], b: &[u8]) -> f64 {
    let sum: u64 = a.iter().zip(b).map(|(x, y)| u64::from(x.abs_diff(*y))).sum();
    sum as f64 / a.len().max(1) as f64
}

impl Viewer {
    /// Measures input-to-picture latency `samples` times on the virtual phone's launcher (HOME
    /// first): a tap on the Settings icon, then BACK, and so on, each timed from sending the input to the
    /// first decoded picture that differs from the one before it. Returns the latencies.
    pub async fn input_latency(&mut self, samples: usize) -> Result<Vec<Duration>, ViewerError> {
        const GRID: (usize, usize) = (9, 16);
        let settle = Duration::from_millis(300);
        // Wait for the control channel and a picture (asked for: a still screen sends none).
        let mut current: Option<Vec<u8>> = None;
        let _ = self.request_keyframe();
        let ready_by = Instant::now() + Duration::from_secs(20);
        while !(self.control_open && current.is_some()) {
            let left = ready_by
                .checked_duration_since(Instant::now())
                .ok_or_else(|| ViewerError::Rtc("no picture and control channel within 20 s".into()))?;
            match self.next_event(left).await? {
                Some(ViewerEvent::Frame(frame)) => current = Some(frame.luma_grid(GRID.0, GRID.1)),
                Some(ViewerEvent::Closed) => return Err(ViewerError::Rtc("the session closed".into())),
                _ => {}
            }
        }
        let mut current = current.unwrap_or_default();
        // Start from the launcher, whatever app was in front.
        self.send(&ControlMessage::Key {
            action: cloudphone_protocol::control::KeyAction::Press,
            keycode: "KEYCODE_HOME".into(),
        })?;
        while let Some(event) = self.next_event(settle * 2).await? {
            if let ViewerEvent::Frame(frame) = event {
                current = frame.luma_grid(GRID.0, GRID.1);
            }
        }
        let mut latencies = Vec::with_capacity(samples);
        for i in 0..samples {
            let sent = Instant::now();
            if i % 2 == 0 {
                for action in
                    [cloudphone_protocol::control::TouchAction::Down, cloudphone_protocol::control::TouchAction::Up]
                {
                    self.send(&ControlMessage::Touch {
                        action,
                        pointer_id: 0,
                        x: 90.0,
                        y: 240.0,
                        width: 720,
                        height: 1280,
                    })?;
                }
            } else {
                self.send(&ControlMessage::Key {
                    action: cloudphone_protocol::control::KeyAction::Press,
                    keycode: "KEYCODE_BACK".into(),
                })?;
            }
            let give_up = sent + Duration::from_secs(5);
            loop {
                let left = give_up
                    .checked_duration_since(Instant::now())
                    .ok_or_else(|| ViewerError::Rtc(format!("input {i} changed no picture within 5 s")))?;
                if let Some(ViewerEvent::Frame(frame)) = self.next_event(left).await? {
                    let grid = frame.luma_grid(GRID.0, GRID.1);
                    if grid_difference(&grid, &current) > 20.0 {
                        latencies.push(sent.elapsed());
                        current = grid;
                        break;
                    }
                }
            }
            // Let the screen settle before the next input, keeping the last picture.
            while let Some(event) = self.next_event(settle).await? {
                if let ViewerEvent::Frame(frame) = event {
                    current = frame.luma_grid(GRID.0, GRID.1);
                }
            }
        }
        Ok(latencies)
    }
}

/// Copies the decoder's planes (which borrow it) into a packed frame.
fn copy_frame(yuv: &impl YUVSource) -> DecodedFrame {
    let (width, height) = yuv.dimensions();
    let (y_stride, u_stride, v_stride) = yuv.strides();
    let plane = |data: &[u8], stride: usize, w: usize, h: usize| {
        let mut out = Vec::with_capacity(w * h);
        for row in 0..h {
            out.extend_from_slice(&data[row * stride..row * stride + w]);
        }
        out
    };
    let (cw, ch) = (width.div_ceil(2), height.div_ceil(2));
    DecodedFrame {
        width,
        height,
        y: plane(yuv.y(), y_stride, width, height),
        u: plane(yuv.u(), u_stride, cw, ch),
        v: plane(yuv.v(), v_stride, cw, ch),
    }
}

/// The local address the OS would use to reach `server` (a connected UDP socket, no packet sent).
async fn local_ip_towards(server: std::net::IpAddr) -> Option<std::net::IpAddr> {
    let probe = UdpSocket::bind(SocketAddr::new(
        if server.is_ipv4() { std::net::Ipv4Addr::UNSPECIFIED.into() } else { std::net::Ipv6Addr::UNSPECIFIED.into() },
        0,
    ))
    .await
    .ok()?;
    probe.connect(SocketAddr::new(server, 9)).await.ok()?;
    probe.local_addr().ok().map(|a| a.ip())
}
