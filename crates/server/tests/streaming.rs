//! Sessions end to end with the native viewer: pictures and sound come down; input, the camera
//! and the microphone go up through the gate; the phone's events (app in front, rotation,
//! clipboard, apps' messages) come down the control channel, the personal ones only to sessions
//! opened for them.

use std::time::Duration;

use cloudphone_protocol::ControlMessage;
use cloudphone_protocol::api::CreateSession;
use cloudphone_protocol::control::{ControlEvent, InputCategory, KeyAction};
use cloudphone_sdk::viewer::{Viewer, ViewerEvent, ViewerOptions};

mod common;
use common::{start, start_with};

/// Runs the viewer until `want` picks an event out of the control channel, or 10 s pass.
async fn wait_for(viewer: &mut Viewer, want: impl Fn(&ControlEvent) -> bool) -> Option<ControlEvent> {
    wait_within(viewer, Duration::from_secs(10), want).await
}

async fn wait_within(
    viewer: &mut Viewer,
    limit: Duration,
    want: impl Fn(&ControlEvent) -> bool,
) -> Option<ControlEvent> {
    let until = std::time::Instant::now() + limit;
    while let Some(left) = until.checked_duration_since(std::time::Instant::now()) {
        if let Some(ViewerEvent::Control(text)) = viewer.next_event(left).await.unwrap() {
            let event: ControlEvent = serde_json::from_str(&text).expect("a documented control event");
            if want(&event) {
                return Some(event);
            }
        }
    }
    None
}

async fn open(client: &cloudphone_sdk::Client, id: &str, allow: Option<Vec<InputCategory>>) -> Viewer {
    let grant = client.create_session(id, &CreateSession { allow, ..Default::default() }).await.unwrap();
    ready(&grant).await
}

/// Connects with a grant and waits for a picture and the control channel.
async fn ready(grant: &cloudphone_protocol::api::SessionGrant) -> Viewer {
    ready_with(grant, ViewerOptions::default()).await
}

async fn ready_with(grant: &cloudphone_protocol::api::SessionGrant, options: ViewerOptions) -> Viewer {
    let mut viewer = Viewer::connect_with(&grant.signalling_url, &grant.session_token, options).await.unwrap();
    drive_until(&mut viewer, Duration::from_secs(20), "a picture and the control channel", |v| {
        v.control_open() && v.stats().frames_decoded > 0
    })
    .await;
    viewer
}

/// Drives the viewer until `done` holds; fails with `what` after `limit`.
async fn drive_until(viewer: &mut Viewer, limit: Duration, what: &str, done: impl Fn(&Viewer) -> bool) {
    let until = std::time::Instant::now() + limit;
    while !done(viewer) {
        assert!(std::time::Instant::now() < until, "not within {limit:?}: {what}");
        viewer.next_event(Duration::from_millis(100)).await.unwrap();
    }
}

fn tap(viewer: &mut Viewer, x: f32, y: f32) {
    for action in [cloudphone_protocol::control::TouchAction::Down, cloudphone_protocol::control::TouchAction::Up] {
        viewer.send(&ControlMessage::Touch { action, pointer_id: 0, x, y, width: 720, height: 1280 }).unwrap();
    }
}

/// Drives the viewer for `time`, keeping the sound it decodes.
async fn listen(viewer: &mut Viewer, time: Duration) -> Vec<i16> {
    let until = std::time::Instant::now() + time;
    let mut sound = Vec::new();
    while let Some(left) = until.checked_duration_since(std::time::Instant::now()) {
        if let Some(ViewerEvent::Audio(samples)) = viewer.next_event(left).await.unwrap() {
            sound.extend(samples);
        }
    }
    sound
}

/// A sine tone at 48 kHz.
fn sine(hz: f32, samples: usize, amplitude: f32) -> Vec<i16> {
    let step = std::f32::consts::TAU * hz / 48_000.0;
    (0..samples).map(|i| ((i as f32 * step).sin() * amplitude) as i16).collect()
}

fn key(keycode: &str) -> ControlMessage {
    ControlMessage::Key { action: KeyAction::Press, keycode: keycode.into() }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn phone_events_come_down_the_control_channel_through_the_gate() {
    let dir = tempfile::tempdir().unwrap();
    let (server, client) = start(dir.path()).await;
    let id = client.create_instances(1).await.unwrap().remove(0).id;
    let mut everything = open(&client, &id, None).await;
    let no_clipboard = vec![InputCategory::Touch, InputCategory::Key, InputCategory::Text];
    let mut spectator = open(&client, &id, Some(no_clipboard)).await;

    // The app in front, told to every viewer.
    client.shell(&id, "am start -n com.cloudphone.notes/.MainActivity").await.unwrap();
    let foreground =
        |e: &ControlEvent| matches!(e, ControlEvent::Foreground { package } if package == "com.cloudphone.notes");
    assert!(wait_for(&mut everything, foreground).await.is_some(), "Notes came to the front");
    assert!(wait_for(&mut spectator, foreground).await.is_some());

    // Text typed in Notes and copied on the phone: the clipboard comes down, to sessions allowed it.
    everything.send(&ControlMessage::Text { text: "copied on the phone".into() }).unwrap();
    everything.send(&key("KEYCODE_COPY")).unwrap();
    let clipboard = wait_for(&mut everything, |e| matches!(e, ControlEvent::Clipboard { .. })).await;
    assert_eq!(clipboard, Some(ControlEvent::Clipboard { text: "copied on the phone".into() }));
    assert_eq!(
        // By now the other session has had it; a second is ample for this one too.
        wait_within(&mut spectator, Duration::from_secs(1), |e| matches!(e, ControlEvent::Clipboard { .. })).await,
        None,
        "a session without the clipboard category is not sent the clipboard"
    );

    // Rotation, with the new picture size.
    client.shell(&id, "settings put system user_rotation 1").await.unwrap();
    let rotation = wait_for(&mut spectator, |e| matches!(e, ControlEvent::Rotation { .. })).await;
    assert_eq!(rotation, Some(ControlEvent::Rotation { rotation: 1, width: 1280, height: 720 }));
    // The viewer may ask for a rotation itself (a key-category input); 4 quarter turns is refused.
    spectator.send(&ControlMessage::Rotate { rotation: 4 }).unwrap();
    let refused = wait_for(&mut spectator, |e| matches!(e, ControlEvent::Error { .. })).await;
    assert!(matches!(refused, Some(ControlEvent::Error { code, .. }) if code == "control.rejected"));
    spectator.send(&ControlMessage::Rotate { rotation: 0 }).unwrap();
    let upright = wait_for(&mut spectator, |e| matches!(e, ControlEvent::Rotation { .. })).await;
    assert_eq!(upright, Some(ControlEvent::Rotation { rotation: 0, width: 720, height: 1280 }));

    // Every 2 s, how the session is doing.
    let stats = wait_for(&mut spectator, |e| matches!(e, ControlEvent::Stats { .. })).await.expect("a report");
    let ControlEvent::Stats { codec, width, height, fps, bitrate_kbps, .. } = stats else { unreachable!() };
    assert_eq!(codec, "H264");
    assert!([(720, 1280), (1280, 720)].contains(&(width, height)), "the picture's size: {width}x{height}");
    assert!(fps >= 0.0 && bitrate_kbps >= 0.0);
    let metrics = reqwest::get(format!("{}/metrics", client.base_url())).await.unwrap().text().await.unwrap();
    let sent: u64 = metrics
        .lines()
        .find_map(|l| l.strip_prefix("cloudphone_viewer_frames_sent_total "))
        .and_then(|v| v.parse().ok())
        .unwrap();
    assert!(sent >= 2, "two viewers got pictures: {sent}");

    // A refused upstream message comes back as an error event, the session goes on.
    spectator.send(&ControlMessage::Clipboard { text: "not allowed".into() }).unwrap();
    let error = wait_for(&mut spectator, |e| matches!(e, ControlEvent::Error { .. })).await;
    assert!(matches!(error, Some(ControlEvent::Error { code, .. }) if code == "control.not_allowed"));
    server.abort();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sessions_are_capped_per_phone_with_a_clear_error() {
    let dir = tempfile::tempdir().unwrap();
    let limits = cloudphone_server::services::SessionLimits { per_phone: 1, per_tenant: 10 };
    let (server, client) = start_with(dir.path(), |c| cloudphone_server::Config { session_limits: limits, ..c }).await;
    let id = client.create_instances(1).await.unwrap().remove(0).id;
    let first = client.create_session(&id, &CreateSession::default()).await.unwrap();
    let mut viewer = ready(&first).await;
    let second = client.create_session(&id, &CreateSession::default()).await.unwrap();
    let refused = Viewer::connect(&second.signalling_url, &second.session_token).await.err().expect("refused");
    assert!(refused.to_string().contains("session.limit_reached"), "{refused}");
    // When the first is gone (revoked here: it is told why), there is room again.
    client.revoke_session(&first.session_token).await.unwrap();
    let ended = wait_for(&mut viewer, |e| matches!(e, ControlEvent::SessionEnded { .. })).await;
    assert_eq!(ended, Some(ControlEvent::SessionEnded { reason: "revoked".into() }));
    let mut again = Viewer::connect(&second.signalling_url, &second.session_token).await.unwrap();
    drive_until(&mut again, Duration::from_secs(20), "a picture", |v| v.stats().frames_decoded > 0).await;
    server.abort();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn idle_sessions_are_warned_then_recycled_and_input_keeps_them() {
    let dir = tempfile::tempdir().unwrap();
    let (server, client) = start(dir.path()).await;
    let id = client.create_instances(1).await.unwrap().remove(0).id;
    let request = CreateSession { idle_timeout_seconds: Some(10), ..Default::default() };
    let grant = client.create_session(&id, &request).await.unwrap();
    assert_eq!(grant.idle_timeout_seconds, 10);
    let mut viewer = Viewer::connect(&grant.signalling_url, &grant.session_token).await.unwrap();
    let started = std::time::Instant::now();

    // Warned halfway (the lead is 30 s, or half of a shorter timeout).
    let warning = wait_for(&mut viewer, |e| matches!(e, ControlEvent::IdleWarning { .. })).await;
    assert!(matches!(warning, Some(ControlEvent::IdleWarning { seconds_left }) if seconds_left <= 5));
    assert!(started.elapsed() >= Duration::from_secs(4), "not before the lead: {:?}", started.elapsed());
    // A key press keeps it: the next warning is a full half-timeout later.
    let pressed = std::time::Instant::now();
    viewer.send(&key("KEYCODE_HOME")).unwrap();
    let again = wait_for(&mut viewer, |e| matches!(e, ControlEvent::IdleWarning { .. })).await;
    assert!(again.is_some() && pressed.elapsed() >= Duration::from_secs(4), "{:?}", pressed.elapsed());
    let ended = wait_for(&mut viewer, |e| matches!(e, ControlEvent::SessionEnded { .. })).await;
    assert_eq!(ended, Some(ControlEvent::SessionEnded { reason: "idle".into() }));
    assert!(pressed.elapsed() >= Duration::from_secs(9), "recycled after the timeout: {:?}", pressed.elapsed());

    let bad = CreateSession { idle_timeout_seconds: Some(7201), ..Default::default() };
    assert_eq!(common::code(client.create_session(&id, &bad).await), "request.invalid_parameter");
    server.abort();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sound_comes_down_camera_and_microphone_go_up_and_apps_talk_both_ways() {
    let dir = tempfile::tempdir().unwrap();
    let (server, client) = start(dir.path()).await;
    let id = client.create_instances(1).await.unwrap().remove(0).id;
    let grant = client.create_session(&id, &CreateSession::default()).await.unwrap();
    let mut viewer = ready_with(&grant, ViewerOptions { camera: true, microphone: true }).await;
    let wav = dir.path().join("sound.wav");
    viewer.record_audio_to(&wav).unwrap();

    // Down, sound: a quiet phone sends none; the Recorder's test tone (440 Hz, 1 s) comes as Opus.
    client.shell(&id, "monkey -p com.cloudphone.recorder 1").await.unwrap();
    assert!(listen(&mut viewer, Duration::from_millis(500)).await.is_empty(), "silence is not sent");
    tap(&mut viewer, 360.0, 1050.0);
    let sound = listen(&mut viewer, Duration::from_millis(1800)).await;
    let loud: Vec<i16> = sound.iter().copied().skip_while(|s| s.unsigned_abs() < 2000).collect();
    assert!(loud.len() >= 40_000, "most of the second of tone arrived: {} samples", loud.len());
    let tone = &loud[4_800..40_000];
    let rising = tone.windows(2).filter(|w| w[0] < 0 && w[1] >= 0).count() as f64 * 48_000.0 / tone.len() as f64;
    assert!((rising - 440.0).abs() < 15.0, "the tone's pitch: {rising:.1} Hz");
    assert!(viewer.stats().audio_packets >= 45, "{} packets", viewer.stats().audio_packets);
    // A quarter of full scale at the default volume (8 of 15): about -21 dBFS.
    assert!(viewer.stats().audio_peak_dbfs.unwrap() > -26.0, "{:?}", viewer.stats().audio_peak_dbfs);
    let recorded = std::fs::read(&wav).unwrap();
    assert_eq!(&recorded[..4], b"RIFF");
    assert_eq!(recorded.len(), 44 + 2 * sound.len(), "the WAV holds what was decoded");

    // Up, microphone: a loud tone reaches the phone's microphone, from the viewer.
    for chunk in sine(300.0, 48_000, 16_000.0).chunks(960) {
        viewer.send_microphone(chunk).unwrap();
        viewer.next_event(Duration::from_millis(20)).await.unwrap();
    }
    let mic = client.microphone(&id).await.unwrap();
    assert_eq!(mic.source.as_deref(), Some("viewer"));
    assert!(mic.level_db > -12.0 && mic.samples >= 40_000, "{mic:?}");

    // Up, camera: pictures of a solid colour show in the phone's Camera app.
    client.shell(&id, "monkey -p com.cloudphone.camera 1").await.unwrap();
    let orange: Vec<u8> = [255u8, 140, 0, 255].repeat(320 * 240);
    for _ in 0..30 {
        viewer.send_camera(&orange, 320, 240).unwrap();
        viewer.next_event(Duration::from_millis(33)).await.unwrap();
    }
    // The statistics report how long the camera's pictures take to decode.
    let until = std::time::Instant::now() + Duration::from_secs(6);
    let mut decode_ms = None;
    while decode_ms.is_none() && std::time::Instant::now() < until {
        viewer.send_camera(&orange, 320, 240).unwrap();
        if let Some(ViewerEvent::Control(text)) = viewer.next_event(Duration::from_millis(33)).await.unwrap()
            && let Ok(ControlEvent::Stats { decode_ms: Some(ms), .. }) = serde_json::from_str(&text)
        {
            decode_ms = Some(ms);
        }
    }
    assert!(decode_ms.is_some_and(|ms| ms > 0.0), "{decode_ms:?}");
    listen(&mut viewer, Duration::from_millis(300)).await;
    let camera = client.camera(&id).await.unwrap();
    assert_eq!((camera.source.as_deref(), camera.width, camera.height), (Some("viewer"), Some(320), Some(240)));
    // A busy machine drops pictures the decoder cannot keep up with (by design), not all of them.
    assert!(camera.frames >= 5, "{} pictures decoded", camera.frames);
    let screen = png::Decoder::new(std::io::Cursor::new(client.screenshot(&id).await.unwrap()));
    let mut reader = screen.read_info().unwrap();
    let mut pixels = vec![0; reader.output_buffer_size().unwrap()];
    let info = reader.next_frame(&mut pixels).unwrap();
    let channels = info.color_type.samples();
    let at = (640 * info.width as usize + 360) * channels;
    let centre = &pixels[at..at + 3];
    assert!(centre[0] > 200 && (100..190).contains(&centre[1]) && centre[2] < 60, "the preview is orange: {centre:?}");

    // App messages, both ways: to an app's inbox, and from the app down to the viewer.
    let message = ControlMessage::AppMessage { package: "com.cloudphone.notes".into(), data: r#"{"hello":1}"#.into() };
    viewer.send(&message).unwrap();
    listen(&mut viewer, Duration::from_millis(300)).await;
    let read = client.shell(&id, "cmd cloudphone message read com.cloudphone.notes").await.unwrap();
    assert_eq!(read.stdout, "{\"hello\":1}\n");
    client.shell(&id, "cmd cloudphone message send com.cloudphone.notes pong").await.unwrap();
    let reply = wait_for(&mut viewer, |e| matches!(e, ControlEvent::AppMessage { .. })).await;
    assert_eq!(reply, Some(ControlEvent::AppMessage { package: "com.cloudphone.notes".into(), data: "pong".into() }));
    viewer.send(&ControlMessage::AppMessage { package: "com.example.absent".into(), data: "x".into() }).unwrap();
    let error = wait_for(&mut viewer, |e| matches!(e, ControlEvent::Error { .. })).await;
    assert!(matches!(error, Some(ControlEvent::Error { code, .. }) if code == "control.rejected"));

    // A session opened without camera, microphone and app messages: refused, once each, and
    // apps' messages do not come down to it.
    let basic = vec![InputCategory::Touch, InputCategory::Key];
    let narrow = client.create_session(&id, &CreateSession { allow: Some(basic), ..Default::default() }).await.unwrap();
    let mut narrow = ready_with(&narrow, ViewerOptions { camera: true, microphone: true }).await;
    narrow.send_camera(&orange, 320, 240).unwrap();
    let refused = wait_for(&mut narrow, |e| matches!(e, ControlEvent::Error { .. })).await;
    assert!(matches!(&refused, Some(ControlEvent::Error { code, .. }) if code == "control.not_allowed"), "{refused:?}");
    narrow.send_microphone(&sine(300.0, 960, 16_000.0)).unwrap();
    let refused = wait_for(&mut narrow, |e| matches!(e, ControlEvent::Error { .. })).await;
    assert!(
        matches!(refused, Some(ControlEvent::Error { code, message }) if code == "control.not_allowed" && message.contains("microphone"))
    );
    client.shell(&id, "cmd cloudphone message send com.cloudphone.notes private").await.unwrap();
    let leaked =
        wait_within(&mut narrow, Duration::from_secs(1), |e| matches!(e, ControlEvent::AppMessage { .. })).await;
    assert_eq!(leaked, None, "apps' messages only go to sessions opened for them");
    assert!(client.camera(&id).await.unwrap().frames < camera.frames + 2, "the refused camera reached nothing");
    server.abort();
}

/// A number from `/metrics`.
async fn metric(client: &cloudphone_sdk::Client, name: &str) -> f64 {
    let metrics = reqwest::get(format!("{}/metrics", client.base_url())).await.unwrap().text().await.unwrap();
    let prefix = format!("{name} ");
    metrics.lines().find_map(|l| l.strip_prefix(&prefix)).and_then(|v| v.parse().ok()).expect(name)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn viewers_choose_a_quality_and_share_one_encoder_per_quality() {
    let dir = tempfile::tempdir().unwrap();
    let (server, client) = start(dir.path()).await;
    let id = client.create_instances(1).await.unwrap().remove(0).id;
    let mut a = open(&client, &id, None).await;
    let mut b = open(&client, &id, None).await;
    assert_eq!(metric(&client, "cloudphone_video_encoders").await, 1.0, "two viewers, one encoder");

    // VMOS ids: 360x640 (11), 15 fps (8), 400 kbit/s (14).
    b.send(&ControlMessage::Quality { resolution: Some(11), fps: Some(8), bitrate: Some(14) }).unwrap();
    let told = wait_for(&mut b, |e| matches!(e, ControlEvent::Quality { .. })).await;
    let expected =
        ControlEvent::Quality { width: 360, height: 640, max_fps: 15, bitrate_kbps: 400, reason: "requested".into() };
    assert_eq!(told, Some(expected));
    // The next pictures are the smaller ones (the switch starts at a keyframe).
    drive_until(&mut b, Duration::from_secs(10), "a 360x640 picture", |v| v.stats().width == 360).await;
    assert_eq!(b.stats().height, 640);
    // The other viewer is unaffected; a change reaches both, each at its own size.
    a.send(&key("KEYCODE_APP_SWITCH")).unwrap();
    let a_frames = a.stats().frames_decoded;
    drive_until(&mut a, Duration::from_secs(10), "a new picture", |v| v.stats().frames_decoded > a_frames).await;
    assert_eq!((a.stats().width, a.stats().height), (720, 1280));
    assert_eq!(metric(&client, "cloudphone_video_encoders").await, 2.0, "one encoder per quality");

    // Only the frame rate: the rest stays.
    b.send(&ControlMessage::Quality { resolution: None, fps: Some(4), bitrate: None }).unwrap();
    let told = wait_for(&mut b, |e| matches!(e, ControlEvent::Quality { .. })).await;
    assert!(matches!(told, Some(ControlEvent::Quality { max_fps: 60, bitrate_kbps: 400, width: 360, .. })), "{told:?}");
    // An unknown id is refused with the known ones listed; the quality stays.
    b.send(&ControlMessage::Quality { resolution: Some(99), fps: None, bitrate: None }).unwrap();
    let refused = wait_for(&mut b, |e| matches!(e, ControlEvent::Error { .. })).await;
    assert!(
        matches!(&refused, Some(ControlEvent::Error { code, message }) if code == "control.rejected" && message.contains("resolution id 99")),
        "{refused:?}"
    );

    // A session may start at a quality (VMOS ids at creation): its very first picture has it.
    let ids = cloudphone_protocol::api::QualityIds { resolution: Some(11), fps: Some(8), bitrate: None };
    let request = CreateSession { quality: Some(ids), ..Default::default() };
    let grant = client.create_session(&id, &request).await.unwrap();
    assert_eq!((grant.quality.short_side, grant.quality.max_fps, grant.quality.bitrate_kbps), (360, 15, 4000));
    let small = ready(&grant).await;
    assert_eq!((small.stats().width, small.stats().height), (360, 640));
    let bad = CreateSession {
        quality: Some(cloudphone_protocol::api::QualityIds { fps: Some(42), ..Default::default() }),
        ..Default::default()
    };
    assert_eq!(common::code(client.create_session(&id, &bad).await), "request.invalid_parameter");
    server.abort();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn spectators_watch_shared_links_and_group_control() {
    use cloudphone_protocol::api::{SessionRole, ShareSession};
    let dir = tempfile::tempdir().unwrap();
    let (server, client) = start(dir.path()).await;
    let ids: Vec<String> = client.create_instances(3).await.unwrap().into_iter().map(|i| i.id).collect();
    let (main, members) = (&ids[0], &ids[1..]);

    // A spectator watches and may choose its quality, but sends no input.
    let watch = CreateSession { role: Some(SessionRole::Spectator), ..Default::default() };
    let grant = client.create_session(main, &watch).await.unwrap();
    assert_eq!((grant.role, grant.allow.len()), (SessionRole::Spectator, 0));
    let mut spectator = ready(&grant).await;
    spectator.send(&key("KEYCODE_HOME")).unwrap();
    let refused = wait_for(&mut spectator, |e| matches!(e, ControlEvent::Error { .. })).await;
    assert!(matches!(&refused, Some(ControlEvent::Error { code, .. }) if code == "control.not_allowed"), "{refused:?}");
    spectator.send(&ControlMessage::Quality { resolution: Some(12), fps: None, bitrate: None }).unwrap();
    assert!(wait_for(&mut spectator, |e| matches!(e, ControlEvent::Quality { width: 540, .. })).await.is_some());
    let contradiction = CreateSession { allow: Some(vec![InputCategory::Touch]), ..watch.clone() };
    assert_eq!(common::code(client.create_session(main, &contradiction).await), "request.invalid_parameter");

    // Group control: the controller's input reaches its phone and, mirrored, the group's;
    // spectators of the members see it happen.
    let control = CreateSession { group: Some(members.to_vec()), ..Default::default() };
    let grant = client.create_session(main, &control).await.unwrap();
    assert_eq!((grant.role, grant.group.clone()), (SessionRole::Controller, members.to_vec()));
    let mut member_views = Vec::new();
    for member in members {
        member_views.push(ready(&client.create_session(member, &watch).await.unwrap()).await);
    }
    let mut spectator = ready(&client.create_session(main, &watch).await.unwrap()).await;
    let mut controller = ready(&grant).await;
    tap(&mut controller, 90.0, 240.0); // the Settings icon
    // Input leaves the viewer as it is driven.
    listen(&mut controller, Duration::from_millis(300)).await;
    let settings =
        |e: &ControlEvent| matches!(e, ControlEvent::Foreground { package } if package == "com.android.settings");
    assert!(wait_for(&mut spectator, settings).await.is_some(), "the main phone opened Settings");
    for member in members {
        let until = std::time::Instant::now() + Duration::from_secs(10);
        while client.apps(member).await.unwrap().foreground.as_deref() != Some("com.android.settings") {
            assert!(std::time::Instant::now() < until, "member {member} did not open Settings");
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }
    // Each member's screen is watched by a session of its own, which decoded it.
    assert!(member_views.iter().all(|v| v.stats().frames_decoded > 0));
    // Only touches, keys and text are mirrored: the clipboard stays on the main phone.
    controller.send(&ControlMessage::Clipboard { text: "main only".into() }).unwrap();
    listen(&mut controller, Duration::from_millis(300)).await;
    assert_eq!(client.clipboard(main).await.unwrap(), "main only");
    assert_ne!(client.clipboard(&members[0]).await.unwrap(), "main only");
    let bad_group = CreateSession { group: Some(vec![main.clone()]), ..Default::default() };
    assert_eq!(common::code(client.create_session(main, &bad_group).await), "request.invalid_parameter");
    let missing = CreateSession { group: Some(vec!["cp-nosuch".into()]), ..Default::default() };
    assert_eq!(common::code(client.create_session(main, &missing).await), "instance.not_found");

    // Sharing by link, as the end user's app does (the token, no access key).
    let share = |role| ShareSession { role, ttl_seconds: None };
    let link = cloudphone_sdk::share_session(&grant.share_url, &grant.session_token, &share(None)).await.unwrap();
    assert_eq!((link.role, link.instance_id.as_str(), link.group.len()), (SessionRole::Spectator, main.as_str(), 0));
    let mut friend = ready(&link).await;
    // A spectator link cannot make a controller one; nor can a link outlive its source.
    let controller_link = share(Some(SessionRole::Controller));
    let escalate = cloudphone_sdk::share_session(&link.share_url, &link.session_token, &controller_link).await;
    assert_eq!(escalate.unwrap_err().code(), Some("request.invalid_parameter"));
    let long = ShareSession { role: None, ttl_seconds: Some(86_400) };
    let refused = cloudphone_sdk::share_session(&grant.share_url, &grant.session_token, &long).await.unwrap_err();
    assert_eq!(refused.code(), Some("request.invalid_parameter"));
    let bad_token = cloudphone_sdk::share_session(&grant.share_url, "not-a-token", &share(None)).await.unwrap_err();
    assert_eq!(bad_token.code(), Some("session.token_invalid"));
    // Revoking the token ends the sessions of the links shared from it too.
    client.revoke_session(&grant.session_token).await.unwrap();
    let ended = wait_for(&mut friend, |e| matches!(e, ControlEvent::SessionEnded { .. })).await;
    assert_eq!(ended, Some(ControlEvent::SessionEnded { reason: "revoked".into() }));
    let gone = Viewer::connect(&link.signalling_url, &link.session_token).await.err().expect("the link is revoked");
    assert!(gone.to_string().contains("session.token_invalid"), "{gone}");
    server.abort();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_viewer_reconnects_with_the_same_token_and_keeps_its_quality() {
    let dir = tempfile::tempdir().unwrap();
    let (server, client) = start(dir.path()).await;
    let id = client.create_instances(1).await.unwrap().remove(0).id;
    let grant = client.create_session(&id, &CreateSession::default()).await.unwrap();
    let mut viewer = ready(&grant).await;
    viewer.send(&ControlMessage::Quality { resolution: Some(11), fps: None, bitrate: None }).unwrap();
    assert!(wait_for(&mut viewer, |e| matches!(e, ControlEvent::Quality { width: 360, .. })).await.is_some());

    // A network change: the viewer connects again with its token, no new grant, and the
    // quality it chose comes back.
    let before = viewer.stats().frames_decoded;
    viewer.reconnect().await.unwrap();
    drive_until(&mut viewer, Duration::from_secs(20), "pictures at the chosen size after the reconnect", |v| {
        v.control_open() && v.stats().frames_decoded > before && v.stats().width == 360
    })
    .await;
    assert_eq!(viewer.stats().reconnects, 1);
    // The old connection's session ends on the server once its peer is gone.
    let until = std::time::Instant::now() + Duration::from_secs(30);
    while metric(&client, "cloudphone_viewer_sessions").await > 1.0 {
        viewer.next_event(Duration::from_millis(500)).await.unwrap();
        assert!(std::time::Instant::now() < until, "the dropped connection's session was not ended");
    }
    // A revoked token does not come back.
    client.revoke_session(&grant.session_token).await.unwrap();
    let error = viewer.reconnect().await.unwrap_err();
    assert!(error.to_string().contains("session.token_invalid"), "{error}");
    server.abort();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn with_twcc_the_stats_carry_a_bandwidth_estimate() {
    let dir = tempfile::tempdir().unwrap();
    let (server, client) = start_with(dir.path(), |c| cloudphone_server::Config { twcc: true, ..c }).await;
    let id = client.create_instances(1).await.unwrap().remove(0).id;
    let mut viewer = open(&client, &id, None).await;
    let report = wait_for(&mut viewer, |e| matches!(e, ControlEvent::Stats { bandwidth_kbps: Some(_), .. })).await;
    let Some(ControlEvent::Stats { bandwidth_kbps: Some(kbps), .. }) = report else {
        panic!("no estimate: {report:?}")
    };
    assert!(kbps > 0.0, "{kbps}");
    server.abort();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sensors_location_and_clipboard_go_up_through_the_gate() {
    use cloudphone_protocol::control::{LocationFix, SensorKind, SensorReading};
    let dir = tempfile::tempdir().unwrap();
    let (server, client) = start(dir.path()).await;
    let id = client.create_instances(1).await.unwrap().remove(0).id;
    let mut viewer = open(&client, &id, None).await;
    let reading = SensorReading { sensor: SensorKind::Accelerometer, values: [0.5, 9.75, 1.25], timestamp_ns: None };
    viewer.send(&ControlMessage::Sensor(reading)).unwrap();
    let fix = LocationFix {
        latitude: 48.8566,
        longitude: 2.3522,
        altitude: Some(35.0),
        speed: None,
        bearing: None,
        accuracy: Some(4.0),
    };
    viewer.send(&ControlMessage::Location(fix.clone())).unwrap();
    viewer.send(&ControlMessage::Clipboard { text: "from the viewer".into() }).unwrap();
    listen(&mut viewer, Duration::from_millis(400)).await;
    let sensors = client.sensors(&id).await.unwrap();
    let accelerometer = sensors.iter().find(|s| s.sensor == SensorKind::Accelerometer).expect("an accelerometer");
    assert_eq!(accelerometer.values, [0.5, 9.75, 1.25]);
    let location = client.location(&id).await.unwrap();
    assert_eq!((location.fix, location.source.as_deref()), (Some(fix), Some("viewer")));
    assert_eq!(client.clipboard(&id).await.unwrap(), "from the viewer");
    server.abort();
}
