//! A WebRTC client (str0m) talks to the gateway over loopback UDP, with a real phone behind it:
//! the video decodes to the phone's size, a touch opens an app and the picture changes, and a
//! malformed control message comes back as an error event without ending the session.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, Instant};

use cloudphone_gateway::{Gateway, PhoneLink, SessionOptions, UpstreamMedia};
use cloudphone_host::{DeviceHost, Phone};
use cloudphone_media::{AudioPacket, EncodedFrame};
use cloudphone_protocol::control::ControlEvent;
use cloudphone_protocol::quality::StreamQuality;
use cloudphone_protocol::{ApiError, ControlMessage, ErrorCode};
use openh264::decoder::Decoder;
use openh264::formats::YUVSource;
use str0m::change::{SdpAnswer, SdpOffer, SdpPendingOffer};
use str0m::channel::ChannelId;
use str0m::media::{Direction, MediaKind};
use str0m::net::{Protocol, Receive};
use str0m::{Candidate, Event, Input, Output, Rtc, RtcConfig};
use tokio::net::UdpSocket;
use tokio::sync::broadcast;

/// The phone itself, with no gate: this test is about the gateway.
struct Direct(Arc<Phone>);

impl PhoneLink for Direct {
    fn subscribe_video(&self, quality: StreamQuality) -> Option<broadcast::Receiver<Arc<EncodedFrame>>> {
        self.0.subscribe_video(quality)
    }
    fn request_keyframe(&self, quality: StreamQuality) {
        self.0.request_keyframe(quality)
    }
    fn screen_size(&self) -> (u32, u32) {
        self.0.screen_size()
    }
    fn deliver(&self, message: ControlMessage) -> Result<(), ApiError> {
        self.0.inject(&message).map_err(|e| ApiError::with_message(ErrorCode::ControlRejected, e.to_string()))
    }
    fn subscribe_events(&self) -> broadcast::Receiver<ControlEvent> {
        self.0.subscribe_events()
    }
    fn may_receive(&self, _: &ControlEvent) -> bool {
        true
    }
    fn subscribe_audio(&self) -> broadcast::Receiver<Arc<AudioPacket>> {
        self.0.subscribe_audio()
    }
    fn deliver_media(&self, media: UpstreamMedia) -> Result<(), ApiError> {
        let result = match media {
            UpstreamMedia::Camera(p) => self.0.feed_camera(cloudphone_device::virtual_phone::media::CameraFrame {
                width: p.width,
                height: p.height,
                rgba: p.rgba,
            }),
            UpstreamMedia::Microphone(samples) => self.0.feed_microphone(&samples, 48_000),
        };
        result.map_err(|e| ApiError::with_message(ErrorCode::ControlRejected, e.to_string()))
    }
}

struct Client {
    rtc: Rtc,
    socket: UdpSocket,
    local: SocketAddr,
}

impl Client {
    /// Runs the client until `until` says stop or `limit` passes; `on_event` sees every event.
    async fn run(&mut self, limit: Duration, mut on_event: impl FnMut(&mut Rtc, Event) -> bool) -> bool {
        let deadline = Instant::now() + limit;
        let mut buf = vec![0u8; 2048];
        loop {
            let timeout = loop {
                match self.rtc.poll_output().expect("client poll") {
                    Output::Timeout(t) => break t,
                    Output::Transmit(t) => {
                        self.socket.send_to(&t.contents, t.destination).await.expect("send");
                    }
                    Output::Event(e) => {
                        if on_event(&mut self.rtc, e) {
                            return true;
                        }
                    }
                }
            };
            if Instant::now() > deadline {
                return false;
            }
            let wait = timeout.min(deadline);
            let input = tokio::select! {
                r = self.socket.recv_from(&mut buf) => {
                    let (n, source) = r.expect("recv");
                    Input::Receive(Instant::now(), Receive { proto: Protocol::Udp, source, destination: self.local, contents: buf[..n].try_into().expect("datagram") })
                }
                _ = tokio::time::sleep_until(wait.into()) => Input::Timeout(Instant::now()),
            };
            self.rtc.handle_input(input).expect("client input");
        }
    }
}

/// A session that ends only when `end` says so, at the default quality.
fn options(end: tokio::sync::watch::Receiver<bool>) -> SessionOptions {
    SessionOptions { end, idle_timeout: Duration::from_secs(3600), quality: StreamQuality::default() }
}

/// A client offering to receive video, with the control channel, on a loopback socket.
async fn offer_video_and_control() -> (Rtc, UdpSocket, SocketAddr, ChannelId, SdpOffer, SdpPendingOffer) {
    let socket = UdpSocket::bind("127.0.0.1:0").await.unwrap();
    let local = socket.local_addr().unwrap();
    let mut rtc = RtcConfig::new()
        .set_crypto_provider(Arc::new(str0m::crypto::from_feature_flags()))
        .clear_codecs()
        .enable_h264(true)
        .build(Instant::now());
    rtc.add_local_candidate(Candidate::host(local, "udp").unwrap());
    let mut change = rtc.sdp_api();
    change.add_media(MediaKind::Video, Direction::RecvOnly, None, None, None);
    let control = change.add_channel("control".into());
    let (offer, pending) = change.apply().unwrap();
    (rtc, socket, local, control, offer, pending)
}

#[tokio::test]
async fn video_control_and_errors_over_a_real_session() {
    let dir = tempfile::tempdir().unwrap();
    let host = DeviceHost::new(dir.path());
    let phone = host.create("cp-loop", &cloudphone_device::PhoneState::for_seed("cp-loop")).unwrap();
    let gateway = Gateway::new("127.0.0.1".parse().unwrap());

    let (mut rtc, socket, local, control, offer, pending) = offer_video_and_control().await;

    let (end, ended) = tokio::sync::watch::channel(false);
    let answer =
        gateway.accept(&offer.to_sdp_string(), Arc::new(Direct(phone.clone())), options(ended.clone())).await.unwrap();
    rtc.sdp_api().accept_answer(pending, SdpAnswer::from_sdp_string(&answer).unwrap()).unwrap();
    assert!(gateway.accept("not sdp", Arc::new(Direct(phone.clone())), options(ended)).await.is_err());
    let mut client = Client { rtc, socket, local };

    // 1. A keyframe arrives and decodes to the phone's size.
    let mut decoder = Decoder::new().unwrap();
    let mut channel_open = false;
    let mut frames = 0;
    let got_picture = client
        .run(Duration::from_secs(15), |_, event| {
            match event {
                Event::ChannelOpen(id, _) if id == control => channel_open = true,
                Event::MediaData(data) => {
                    if let Ok(Some(yuv)) = decoder.decode(&data.data) {
                        assert_eq!(yuv.dimensions(), (720, 1280));
                        frames += 1;
                    }
                }
                _ => {}
            }
            frames > 0 && channel_open
        })
        .await;
    assert!(got_picture, "a decoded picture and an open control channel within 15 s");
    assert_eq!(gateway.open_sessions(), 1);

    // 2. A malformed message is answered with an error event.
    client.rtc.channel(control).unwrap().write(false, br#"{"type":"teleport"}"#).unwrap();
    let mut error = None;
    client
        .run(Duration::from_secs(5), |_, event| {
            if let Event::ChannelData(d) = event {
                error = Some(String::from_utf8_lossy(&d.data).into_owned());
            }
            error.is_some()
        })
        .await;
    let error = error.expect("an error event");
    assert!(error.contains("\"control.invalid_message\""), "{error}");

    // 3. A tap on the Settings icon changes the picture.
    for action in ["down", "up"] {
        let touch = format!(
            r#"{{"type":"touch","action":"{action}","pointer_id":0,"x":90,"y":240,"width":720,"height":1280}}"#
        );
        client.rtc.channel(control).unwrap().write(false, touch.as_bytes()).unwrap();
    }
    let before = frames;
    let changed = client
        .run(Duration::from_secs(10), |_, event| {
            if let Event::MediaData(data) = event
                && let Ok(Some(_)) = decoder.decode(&data.data)
            {
                frames += 1;
            }
            frames > before
        })
        .await;
    assert!(changed, "the tap produced a new picture");

    // 4. The server ends the session (its token was revoked): it stops at once.
    end.send(true).unwrap();
    for _ in 0..100 {
        if gateway.open_sessions() == 0 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    assert_eq!(gateway.open_sessions(), 0, "the session ended when told to");
}

/// The phone, except that the test makes the video: it can flood a viewer with pictures.
struct Flooded {
    phone: Direct,
    video: broadcast::Sender<Arc<EncodedFrame>>,
    subscribed: std::sync::Mutex<Vec<StreamQuality>>,
}

impl PhoneLink for Flooded {
    fn subscribe_video(&self, quality: StreamQuality) -> Option<broadcast::Receiver<Arc<EncodedFrame>>> {
        self.subscribed.lock().unwrap().push(quality);
        Some(self.video.subscribe())
    }
    fn request_keyframe(&self, _: StreamQuality) {}
    fn screen_size(&self) -> (u32, u32) {
        self.phone.screen_size()
    }
    fn deliver(&self, message: ControlMessage) -> Result<(), ApiError> {
        self.phone.deliver(message)
    }
    fn subscribe_events(&self) -> broadcast::Receiver<ControlEvent> {
        self.phone.subscribe_events()
    }
    fn may_receive(&self, event: &ControlEvent) -> bool {
        self.phone.may_receive(event)
    }
    fn subscribe_audio(&self) -> broadcast::Receiver<Arc<AudioPacket>> {
        self.phone.subscribe_audio()
    }
    fn deliver_media(&self, media: UpstreamMedia) -> Result<(), ApiError> {
        self.phone.deliver_media(media)
    }
}

#[tokio::test]
async fn a_viewer_that_falls_behind_gets_a_keyframe_one_step_lower_and_memory_stays_bounded() {
    let dir = tempfile::tempdir().unwrap();
    let host = DeviceHost::new(dir.path());
    let phone = host.create("cp-lag", &cloudphone_device::PhoneState::for_seed("cp-lag")).unwrap();
    let gateway = Gateway::new("127.0.0.1".parse().unwrap());
    let link =
        Arc::new(Flooded { phone: Direct(phone), video: broadcast::channel(32).0, subscribed: Default::default() });

    let (mut rtc, socket, local, control, offer, pending) = offer_video_and_control().await;
    let answer = gateway
        .accept(&offer.to_sdp_string(), link.clone(), options(tokio::sync::watch::channel(false).1))
        .await
        .unwrap();
    rtc.sdp_api().accept_answer(pending, SdpAnswer::from_sdp_string(&answer).unwrap()).unwrap();
    let mut client = Client { rtc, socket, local };
    assert!(
        client.run(Duration::from_secs(15), |_, e| matches!(e, Event::ChannelOpen(id, _) if id == control)).await,
        "the control channel opens"
    );

    // 40 pictures at once into a buffer of 32, before the session can take any (this runtime
    // has one thread): the session lags, and moves one ladder step down, at a keyframe.
    for i in 0..40u64 {
        let frame = EncodedFrame {
            data: vec![0, 0, 0, 1, 0x41, 0x9a],
            keyframe: false,
            timestamp_us: i * 33_000,
            width: 720,
            height: 1280,
            encode_us: 100,
        };
        link.video.send(Arc::new(frame)).unwrap();
    }
    let mut told = None;
    client
        .run(Duration::from_secs(10), |_, event| {
            if let Event::ChannelData(d) = event
                && let Ok(event @ ControlEvent::Quality { .. }) = serde_json::from_slice(&d.data)
            {
                told = Some(event);
            }
            told.is_some()
        })
        .await;
    let Some(ControlEvent::Quality { bitrate_kbps, reason, .. }) = told else { panic!("no quality event: {told:?}") };
    assert_eq!((bitrate_kbps, reason.as_str()), (3000, "lagging"));
    let subscribed = link.subscribed.lock().unwrap().clone();
    assert_eq!(subscribed, vec![StreamQuality::default(), StreamQuality::default().at_bitrate(3000)]);
}
