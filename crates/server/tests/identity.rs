//! Identity, properties and lifecycle over the HTTP API.

use cloudphone_protocol::api::{CreateInstances, LocaleRequest, NewDevice, PropertiesPatch};
use cloudphone_sdk::Client;
mod common;
use common::{code, start};

fn map(pairs: &[(&str, &str)]) -> std::collections::BTreeMap<String, String> {
    pairs.iter().map(|(k, v)| ((*k).to_owned(), (*v).to_owned())).collect()
}

async fn getprop(client: &Client, id: &str, key: &str) -> String {
    client.shell(id, &format!("getprop {key}")).await.unwrap().stdout.trim_end().to_owned()
}

#[tokio::test]
async fn create_with_model_and_country() {
    let dir = tempfile::tempdir().unwrap();
    let (server, client) = start(dir.path()).await;
    let request = CreateInstances { count: Some(1), model: Some("Galaxy S23".into()), country: Some("JP".into()) };
    let id = client.create_instances_with(&request).await.unwrap().remove(0).id;
    assert_eq!(getprop(&client, &id, "ro.product.model").await, "SM-S911B");
    assert_eq!(getprop(&client, &id, "persist.sys.timezone").await, "Asia/Tokyo");
    assert_eq!(getprop(&client, &id, "gsm.sim.operator.numeric").await, "44010");
    let props = client.properties(&id).await.unwrap();
    assert_eq!(props.modem.mccmnc, "44010");
    assert!(props.modem.phone_number.starts_with("+8190"));
    assert_eq!(props.system["ro.build.fingerprint"], getprop(&client, &id, "ro.build.fingerprint").await);

    let bad_model = CreateInstances { model: Some("Nokia 3310".into()), ..Default::default() };
    assert_eq!(code(client.create_instances_with(&bad_model).await), "catalogue.unknown_model");
    let bad_country = CreateInstances { country: Some("XX".into()), ..Default::default() };
    assert_eq!(code(client.create_instances_with(&bad_country).await), "catalogue.unknown_country");
    assert_eq!(client.list_instances().await.unwrap().len(), 1, "refused creations leave nothing behind");

    assert!(client.catalogue_models().await.unwrap().len() >= 30);
    assert!(client.catalogue_countries().await.unwrap().iter().any(|c| c.code == "JP"));
    server.abort();
}

#[tokio::test]
async fn properties_live_restart_and_validation() {
    let dir = tempfile::tempdir().unwrap();
    let (server, client) = start(dir.path()).await;
    let id = client.create_instances(1).await.unwrap().remove(0).id;

    let patch = PropertiesPatch {
        system: map(&[("ro.product.model", "Pixel 7 Pro"), ("persist.sys.locale", "de-DE")]),
        modem: map(&[("OpName", "Cloud Mobile")]),
        settings: map(&[("ssaid/com.example.app", "0123456789abcdef")]),
    };
    let report = client.patch_properties(&id, &patch).await.unwrap();
    assert_eq!(report.pending_restart, vec!["ro.product.model"]);
    assert_eq!(report.applied.len(), 3);
    assert_eq!(getprop(&client, &id, "ro.product.model").await, "Pixel 7", "ro.* waits for a restart");
    assert_eq!(getprop(&client, &id, "persist.sys.locale").await, "de-DE");
    assert_eq!(getprop(&client, &id, "gsm.operator.alpha").await, "Cloud Mobile");
    let props = client.properties(&id).await.unwrap();
    assert_eq!(props.pending_restart["ro.product.model"], "Pixel 7 Pro");
    assert_eq!(props.ssaid["com.example.app"], "0123456789abcdef");

    // A batch with one bad value changes nothing.
    let bad = PropertiesPatch {
        system: map(&[("persist.sys.locale", "fr-FR")]),
        modem: map(&[("IMEI", "123456789012345")]),
        ..Default::default()
    };
    assert_eq!(code(client.patch_properties(&id, &bad).await), "property.invalid");
    assert_eq!(getprop(&client, &id, "persist.sys.locale").await, "de-DE");
    let read_only = PropertiesPatch { system: map(&[("init.svc.adbd", "stopped")]), ..Default::default() };
    assert_eq!(code(client.patch_properties(&id, &read_only).await), "property.read_only");
    let unknown_ro = PropertiesPatch { system: map(&[("ro.invented.key", "1")]), ..Default::default() };
    assert_eq!(code(client.patch_properties(&id, &unknown_ro).await), "property.read_only");
    let unknown_setting = PropertiesPatch { settings: map(&[("volume", "3")]), ..Default::default() };
    assert_eq!(code(client.patch_properties(&id, &unknown_setting).await), "property.read_only");

    let instance = client.restart(&id).await.unwrap();
    assert_eq!(instance.status.as_str(), "running");
    assert_eq!(getprop(&client, &id, "ro.product.model").await, "Pixel 7 Pro");
    assert!(client.properties(&id).await.unwrap().pending_restart.is_empty());

    let locale = LocaleRequest { locale: Some("ja-JP".into()), timezone: Some("Asia/Tokyo".into()) };
    client.set_locale(&id, &locale).await.unwrap();
    assert_eq!(getprop(&client, &id, "persist.sys.timezone").await, "Asia/Tokyo");
    assert_eq!(code(client.set_locale(&id, &LocaleRequest::default()).await), "request.invalid_parameter");
    let bad_zone = LocaleRequest { timezone: Some("Mars/Olympus".into()), ..Default::default() };
    assert_eq!(code(client.set_locale(&id, &bad_zone).await), "property.invalid");
    let bad_zone = LocaleRequest { timezone: Some("not a zone".into()), ..Default::default() };
    assert_eq!(code(client.set_locale(&id, &bad_zone).await), "property.invalid");

    let mut wifi = client.properties(&id).await.unwrap().wifi;
    wifi[0].ssid = "Office".into();
    client.set_wifi(&id, wifi.clone()).await.unwrap();
    assert_eq!(client.properties(&id).await.unwrap().wifi, wifi);
    wifi[0].ip = "not-an-ip".into();
    assert_eq!(code(client.set_wifi(&id, wifi).await), "property.invalid");
    server.abort();
}

#[tokio::test]
async fn stop_start_reset_new_device_and_process_restart() {
    let dir = tempfile::tempdir().unwrap();
    let (server, client) = start(dir.path()).await;
    let ids: Vec<String> = client.create_instances(2).await.unwrap().into_iter().map(|i| i.id).collect();
    let id = &ids[0];
    client.shell(id, "setprop persist.sys.locale it-IT").await.unwrap();
    let android_id = client.properties(id).await.unwrap().android_id;

    let stopped = client.stop(id).await.unwrap();
    assert_eq!((stopped.status.as_str(), stopped.pad_status), ("stopped", 18));
    assert_eq!(code(client.shell(id, "echo hi").await), "instance.not_running");
    let started = client.start(id).await.unwrap();
    assert_eq!(started.status.as_str(), "running");
    assert_eq!(getprop(&client, id, "persist.sys.locale").await, "it-IT", "stop keeps user data");

    client.reset(id).await.unwrap();
    assert_eq!(getprop(&client, id, "persist.sys.locale").await, "en-US", "reset wipes user data");
    assert_ne!(client.properties(id).await.unwrap().android_id, android_id);

    let imei = client.properties(id).await.unwrap().modem.imei;
    let bad = NewDevice { model: Some("Nokia 3310".into()), ..Default::default() };
    assert_eq!(code(client.new_device(id, &bad).await), "catalogue.unknown_model");
    assert_eq!(client.instance(id).await.unwrap().status.as_str(), "running", "a refused renewal leaves it running");
    assert_eq!(client.properties(id).await.unwrap().modem.imei, imei);
    let renewed = NewDevice { model: Some("Pixel 8".into()), country: Some("GB".into()), keep_user_data: false };
    client.new_device(id, &renewed).await.unwrap();
    let props = client.properties(id).await.unwrap();
    assert_eq!(props.system["ro.product.model"], "Pixel 8");
    assert_eq!(props.modem.mccmnc, "23410");
    assert_ne!(props.modem.imei, imei);

    // The second phone is stopped; after a process restart it is still stopped, the first runs.
    client.stop(&ids[1]).await.unwrap();
    server.abort();
    let (again, client) = start(dir.path()).await;
    assert_eq!(client.instance(id).await.unwrap().status.as_str(), "running");
    assert_eq!(client.properties(id).await.unwrap().system["ro.product.model"], "Pixel 8");
    assert_eq!(client.instance(&ids[1]).await.unwrap().status.as_str(), "stopped");
    assert_eq!(code(client.shell(&ids[1], "echo").await), "instance.not_running");
    again.abort();
}

#[tokio::test]
async fn location_clipboard_sensors() {
    use cloudphone_protocol::control::{LocationFix, SensorKind, SensorReading};
    let dir = tempfile::tempdir().unwrap();
    let (server, client) = start(dir.path()).await;
    let id = client.create_instances(1).await.unwrap().remove(0).id;

    assert_eq!(client.location(&id).await.unwrap().fix, None);
    let fix = LocationFix {
        latitude: 40.6892,
        longitude: -74.0445,
        altitude: Some(93.0),
        speed: None,
        bearing: None,
        accuracy: Some(5.0),
    };
    client.set_location(&id, &fix).await.unwrap();
    let status = client.location(&id).await.unwrap();
    assert_eq!((status.fix, status.source.as_deref()), (Some(fix.clone()), Some("api")));
    assert!(client.shell(&id, "dumpsys location").await.unwrap().stdout.contains("Location[gps 40.689200,-74.044500"));
    let bad = LocationFix { latitude: 95.0, ..fix };
    assert_eq!(code(client.set_location(&id, &bad).await), "device.invalid_input");

    client.set_clipboard(&id, "from the API ✓").await.unwrap();
    assert_eq!(client.clipboard(&id).await.unwrap(), "from the API ✓");
    client.shell(&id, "am start -n com.cloudphone.notes/.MainActivity && input keyevent KEYCODE_PASTE").await.unwrap();
    client.shell(&id, "input text %s!").await.unwrap();
    client.shell(&id, "input keyevent KEYCODE_COPY").await.unwrap();
    assert_eq!(client.clipboard(&id).await.unwrap(), "from the API ✓ !");

    let readings = (0..10)
        .map(|i| SensorReading {
            sensor: SensorKind::Gyroscope,
            values: [0.01 * i as f32, 0.0, 0.0],
            timestamp_ns: Some(1_000_000_000 + i * 10_000_000),
        })
        .collect();
    client.send_sensors(&id, readings).await.unwrap();
    let sensors = client.sensors(&id).await.unwrap();
    assert_eq!(sensors.len(), 1);
    assert_eq!((sensors[0].sensor, sensors[0].count, sensors[0].unit.as_str()), (SensorKind::Gyroscope, 10, "rad/s"));
    assert!((sensors[0].rate_hz - 100.0).abs() < 0.5);
    server.abort();
}

#[tokio::test]
async fn playback_of_sensor_traces_and_routes() {
    use cloudphone_protocol::api::PlaybackRequest;
    let dir = tempfile::tempdir().unwrap();
    let (server, client) = start(dir.path()).await;
    let id = client.create_instances(1).await.unwrap().remove(0).id;
    let csv = "time_ms,sensor,x,y,z\n0,gyroscope,0,0,0.5\n10,gyroscope,0,0,0.6\n20,gyroscope,0,0,0.7\n";
    let request = PlaybackRequest {
        kind: "sensors".into(),
        script: csv.into(),
        speed: Some(2.0),
        looped: false,
        route_speed: None,
    };
    let status = client.play(&id, &request).await.unwrap();
    assert_eq!((status.events, status.duration_ms, status.running), (3, 20, true));
    tokio::time::sleep(std::time::Duration::from_millis(300)).await;
    let done = client.playback(&id).await.unwrap().unwrap();
    assert_eq!((done.played, done.running), (3, false));
    assert_eq!(client.sensors(&id).await.unwrap()[0].values[2], 0.7);

    let gpx = r#"<gpx><rte><rtept lat="10" lon="10"/><rtept lat="10.01" lon="10"/></rte></gpx>"#;
    let route =
        PlaybackRequest { kind: "gpx".into(), script: gpx.into(), speed: None, looped: true, route_speed: Some(5.0) };
    client.play(&id, &route).await.unwrap();
    tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    assert_eq!(client.location(&id).await.unwrap().source.as_deref(), Some("route"));
    client.stop_playback(&id).await.unwrap();
    assert_eq!(client.playback(&id).await.unwrap(), None);

    let bad = PlaybackRequest {
        kind: "sensors".into(),
        script: "0,warp,1,2,3".into(),
        speed: None,
        looped: false,
        route_speed: None,
    };
    let error = client.play(&id, &bad).await.unwrap_err();
    assert_eq!(error.code(), Some("playback.invalid_script"));
    assert!(error.to_string().contains("line 1: unknown sensor"));
    let fast = PlaybackRequest { speed: Some(1000.0), ..route };
    assert_eq!(client.play(&id, &fast).await.unwrap_err().code(), Some("request.invalid_parameter"));
    server.abort();
}

#[tokio::test]
async fn camera_microphone_and_recorded_audio() {
    use cloudphone_device::virtual_phone::media::{decode_wav, encode_wav, level_dbfs};
    let dir = tempfile::tempdir().unwrap();
    let (server, client) = start(dir.path()).await;
    let id = client.create_instances(1).await.unwrap().remove(0).id;

    let mut png_bytes = Vec::new();
    {
        let mut e = png::Encoder::new(&mut png_bytes, 64, 48);
        e.set_color(png::ColorType::Rgb);
        e.write_header().unwrap().write_image_data(&[0, 0, 255].repeat(64 * 48)).unwrap();
    }
    let camera = client.inject_picture(&id, png_bytes).await.unwrap();
    assert_eq!((camera.source.as_deref(), camera.width, camera.height), (Some("picture"), Some(64), Some(48)));
    client.shell(&id, "monkey -p com.cloudphone.camera 1").await.unwrap();
    tokio::time::sleep(std::time::Duration::from_millis(250)).await;
    let shot = client.screenshot(&id).await.unwrap();
    let mut reader = png::Decoder::new(std::io::Cursor::new(&shot)).read_info().unwrap();
    let mut buf = vec![0; reader.output_buffer_size().unwrap()];
    reader.next_frame(&mut buf).unwrap();
    let i = ((640 * 720 + 360) * 4) as usize;
    assert_eq!(&buf[i..i + 3], &[0, 0, 255], "the injected picture is in the Camera app");
    assert_eq!(
        client.inject_picture(&id, b"not a picture".to_vec()).await.unwrap_err().code(),
        Some("device.invalid_input")
    );
    client.clear_camera(&id).await.unwrap();

    let tone: Vec<i16> = (0..1600).map(|i| ((i as f32 * 0.2).sin() * 12_000.0) as i16).collect();
    let fed = client.inject_audio(&id, encode_wav(16_000, &tone), false).await.unwrap();
    assert_eq!((fed.samples, fed.sample_rate), (1600, 16_000));
    tokio::time::sleep(std::time::Duration::from_millis(300)).await;
    let mic = client.microphone(&id).await.unwrap();
    assert_eq!((mic.samples, mic.source.as_deref()), (1600, Some("file")));
    assert_eq!(
        client.inject_audio(&id, b"RIFF".to_vec(), false).await.unwrap_err().code(),
        Some("device.invalid_input")
    );

    // Press the Recorder's "Play tone" button, then record what the phone played.
    client.shell(&id, "monkey -p com.cloudphone.recorder 1 && input tap 360 1052").await.unwrap();
    tokio::time::sleep(std::time::Duration::from_millis(400)).await;
    // The last 2 s hold the tone (1 s long) even on a slow machine; its loudest 100 ms show it.
    let wav = decode_wav(&client.record_audio(&id, 2000).await.unwrap()).unwrap();
    assert_eq!(wav.sample_rate, 48_000);
    let loudest = wav.samples.chunks(4800).map(level_dbfs).fold(f32::MIN, f32::max);
    assert!(loudest > -25.0, "the tone is in the recording: {loudest} dBFS");
    let bad = client.record_audio(&id, 0).await.unwrap_err();
    assert_eq!(bad.code(), Some("request.invalid_parameter"));
    server.abort();
}
