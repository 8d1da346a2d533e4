// @ts-check
/**
 * cloudphone browser SDK: opens a WebRTC session to a cloud phone, shows its screen in a
 * <video> element (with the phone's sound), sends touches, keys, text and app messages on the
 * `control` data channel, and, when asked, the user's camera and microphone as media tracks.
 * The wire format is documented in docs/protocol.md; types are checked with `tsc --checkJs`.
 */

/** @typedef {"down" | "move" | "up" | "cancel"} TouchAction */
/** @typedef {"down" | "up" | "press"} KeyAction */
/** @typedef {"accelerometer" | "magnetometer" | "gyroscope" | "gravity"} SensorKind */
/** @typedef {{latitude: number, longitude: number, altitude?: number, speed?: number, bearing?: number, accuracy?: number}} LocationFix */
/**
 * @typedef {{type: "touch", action: TouchAction, pointer_id: number, x: number, y: number, width: number, height: number}
 *   | {type: "scroll", x: number, y: number, dx: number, dy: number, width: number, height: number}
 *   | {type: "key", action: KeyAction, keycode: string}
 *   | {type: "text", text: string}
 *   | {type: "clipboard", text: string}
 *   | {type: "rotate", rotation: 0 | 1 | 2 | 3}
 *   | {type: "quality", resolution?: number, fps?: number, bitrate?: number}
 *   | {type: "sensor", sensor: SensorKind, values: [number, number, number], timestamp_ns?: number}
 *   | ({type: "location"} & LocationFix)
 *   | {type: "app_message", package: string, data: string}} ControlMessage
 */
/**
 * @typedef {object} ConnectOptions
 * @property {string} signallingUrl where to POST the SDP offer
 * @property {string} token the session token from `POST /v1/instances/{id}/sessions`
 * @property {HTMLVideoElement} video where the phone's screen is shown; the phone's sound plays from it too (browsers start it muted: unmute it after a user gesture)
 * @property {boolean | MediaStream} [camera] send the user's camera into the phone's camera: `true` asks the browser for it, or pass a stream (its first video track is sent); the session must allow `camera`
 * @property {boolean | MediaStream} [microphone] send the user's microphone into the phone's microphone: `true` asks the browser for it, or pass a stream; the session must allow `microphone`
 * @property {(error: CloudPhoneError) => void} [onError] errors the phone or server reports mid-session
 * @property {(state: RTCPeerConnectionState | "reconnecting") => void} [onConnectionStateChange] the connection's state; `reconnecting` when the SDK connects again by itself (VMOS states 4 and 5)
 * @property {(text: string) => void} [onClipboard] the phone's clipboard changed on the phone (VMOS `onOutputClipper`); only for sessions opened with the clipboard category
 * @property {(rotation: number, width: number, height: number) => void} [onRotation] the screen turned (quarter turns; VMOS `onChangeRotate`)
 * @property {(packageName: string) => void} [onForeground] another app came to the front
 * @property {(quality: {width: number, height: number, max_fps: number, bitrate_kbps: number, reason: string}) => void} [onQuality] the video's quality changed: as asked (`setStreamConfig`), or for the bandwidth (VMOS `onChangeResolution`)
 * @property {(packageName: string, data: string) => void} [onAppMessage] an app in the phone sent a message (edge-cloud messaging); only for sessions opened with the app_message category
 * @property {(secondsLeft: number) => void} [onIdleWarning] no input for a while: the session is recycled in `secondsLeft` unless some comes (VMOS `onAutoRecycleTime`)
 * @property {(reason: string) => void} [onSessionEnded] the server ended the session: `idle` or `revoked`
 * @property {(stats: {rtt_ms?: number, loss?: number, fps: number, bitrate_kbps: number, audio_kbps: number, bandwidth_kbps?: number, codec: string, width: number, height: number, encode_ms?: number, decode_ms?: number}) => void} [onRunInformation] every 2 s, how the session is doing (VMOS `onRunInformation`)
 */

/** An error with a code from the server's error catalogue (docs/errors.md). */
export class CloudPhoneError extends Error {
  /**
   * @param {string} code
   * @param {string} message
   */
  constructor(code, message) {
    super(message);
    this.name = "CloudPhoneError";
    this.code = code;
  }
}

/** The label of the control data channel. */
export const CONTROL_CHANNEL_LABEL = "control";

/**
 * Resolves when ICE gathering completes (or after `timeoutMs`), so the offer carries our
 * candidates and signalling is a single request.
 * @param {RTCPeerConnection} pc
 * @param {number} timeoutMs
 * @returns {Promise<void>}
 */
function iceGatheringDone(pc, timeoutMs) {
  if (pc.iceGatheringState === "complete") return Promise.resolve();
  return new Promise((resolve) => {
    const done = () => {
      pc.removeEventListener("icegatheringstatechange", check);
      resolve();
    };
    const check = () => {
      if (pc.iceGatheringState === "complete") done();
    };
    pc.addEventListener("icegatheringstatechange", check);
    setTimeout(done, timeoutMs);
  });
}

/**
 * Hands one event from the control channel to the callback for its type (docs/protocol.md
 * section 5). Types this SDK does not know are ignored, so servers can add kinds.
 * @param {string} text the message as received
 * @param {Partial<ConnectOptions>} callbacks
 */
export function handleControlEvent(text, callbacks) {
  let message;
  try {
    message = JSON.parse(text);
  } catch {
    callbacks.onError?.(new CloudPhoneError("control.invalid_message", "the phone sent a message that is not JSON"));
    return;
  }
  switch (message?.type) {
    case "error":
      callbacks.onError?.(new CloudPhoneError(message.code, message.message));
      break;
    case "clipboard":
      callbacks.onClipboard?.(message.text);
      break;
    case "rotation":
      callbacks.onRotation?.(message.rotation, message.width, message.height);
      break;
    case "foreground":
      callbacks.onForeground?.(message.package);
      break;
    case "app_message":
      callbacks.onAppMessage?.(message.package, message.data);
      break;
    case "quality":
      callbacks.onQuality?.(message);
      break;
    case "stats":
      callbacks.onRunInformation?.(message);
      break;
    case "idle_warning":
      callbacks.onIdleWarning?.(message.seconds_left);
      break;
    case "session_ended":
      callbacks.onSessionEnded?.(message.reason);
      break;
  }
}

/**
 * The track to send for a `camera` or `microphone` option: none, the browser's (asked for), or
 * the first of a given stream.
 * @param {boolean | MediaStream | undefined} option
 * @param {"audio" | "video"} kind
 * @returns {Promise<MediaStreamTrack | null>}
 */
async function userMedia(option, kind) {
  if (!option) return null;
  const stream = option instanceof MediaStream ? option : await navigator.mediaDevices.getUserMedia({ [kind]: true });
  return (kind === "video" ? stream.getVideoTracks() : stream.getAudioTracks())[0] ?? null;
}

/** How long a connection may stay "disconnected" before the session reconnects. */
const RECONNECT_AFTER_MS = 3000;

/** A live session with one cloud phone. */
export class CloudPhoneSession {
  /**
   * Use `CloudPhoneSession.connect`; this makes a session that is not connected yet.
   * @param {ConnectOptions} options
   */
  constructor(options) {
    this.options = options;
    /** @type {RTCPeerConnection | null} */
    this.pc = null;
    /** @type {RTCDataChannel | null} */
    this.control = null;
    this.instanceId = "";
    /** @type {ControlMessage[]} messages sent before the channel opened */
    this.pending = [];
    /** @type {MediaStreamTrack[]} tracks this session asked the browser for (stopped on close) */
    this.ownTracks = [];
    /** @type {MediaStreamTrack | null} */
    this.camera = null;
    /** @type {MediaStreamTrack | null} */
    this.microphone = null;
    /** the session token: for reconnecting and sharing */
    this.token = options.token;
    /** where share links are asked for */
    this.shareUrl = options.signallingUrl.replace(/\/offer$/, "/share");
    /** @type {{resolution?: number, fps?: number, bitrate?: number}} the quality ids asked for, asked again after a reconnect */
    this.quality = {};
    /** the server ended the session, or `close()` was called: no reconnecting then */
    this.ended = false;
    this.reconnects = 0;
  }

  /**
   * Connects to the phone the token opens. When the connection drops, the session connects
   * again by itself with the same token (`onConnectionStateChange("reconnecting")`), unless
   * the server ended it.
   * @param {ConnectOptions} options
   * @returns {Promise<CloudPhoneSession>}
   */
  static async connect(options) {
    const session = new CloudPhoneSession(options);
    session.camera = await userMedia(options.camera, "video");
    session.microphone = await userMedia(options.microphone, "audio");
    // Tracks the SDK asked the browser for are the SDK's to stop; given streams stay the caller's.
    if (session.camera && options.camera === true) session.ownTracks.push(session.camera);
    if (session.microphone && options.microphone === true) session.ownTracks.push(session.microphone);
    try {
      await session.open();
    } catch (e) {
      session.close();
      throw e;
    }
    return session;
  }

  /** Makes the WebRTC connection: screen, sound, the camera if any, the control channel. */
  async open() {
    const options = this.options;
    const pc = new RTCPeerConnection({ iceServers: [] });
    // The order is the contract with the gateway (docs/protocol.md): screen, sound, camera.
    pc.addTransceiver("video", { direction: "recvonly" });
    const sound = this.microphone
      ? pc.addTransceiver(this.microphone, { direction: "sendrecv" })
      : pc.addTransceiver("audio", { direction: "recvonly" });
    if (this.camera) {
      const sender = pc.addTransceiver(this.camera, { direction: "sendonly" });
      // The phone decodes H.264 Constrained Baseline: offer nothing else for the camera.
      const h264 = (RTCRtpSender.getCapabilities("video")?.codecs ?? []).filter(
        (c) => c.mimeType === "video/H264" && /packetization-mode=1/.test(c.sdpFmtpLine ?? "") && /profile-level-id=42e0/.test(c.sdpFmtpLine ?? ""),
      );
      if (h264.length) sender.setCodecPreferences(h264);
    }
    const control = pc.createDataChannel(CONTROL_CHANNEL_LABEL, { ordered: true });
    // Screen and sound share one stream on the <video>, so they play in sync.
    const shown = new MediaStream();
    options.video.srcObject = shown;
    pc.addEventListener("track", (event) => {
      if (event.transceiver === sound || event.track.kind === "video") shown.addTrack(event.track);
    });
    /** @type {ReturnType<typeof setTimeout> | undefined} */
    let dropTimer;
    pc.addEventListener("connectionstatechange", () => {
      if (pc !== this.pc) return;
      options.onConnectionStateChange?.(pc.connectionState);
      clearTimeout(dropTimer);
      if (pc.connectionState === "failed") this.reconnect().catch(() => {});
      if (pc.connectionState === "disconnected") {
        dropTimer = setTimeout(() => this.reconnect().catch(() => {}), RECONNECT_AFTER_MS);
      }
    });
    control.addEventListener("open", () => {
      if (Object.keys(this.quality).length) control.send(JSON.stringify({ type: "quality", ...this.quality }));
      for (const m of this.pending.splice(0)) control.send(JSON.stringify(m));
    });
    const callbacks = {
      ...options,
      onSessionEnded: (/** @type {string} */ reason) => {
        this.ended = true;
        options.onSessionEnded?.(reason);
      },
    };
    control.addEventListener("message", (event) => handleControlEvent(String(event.data), callbacks));
    this.pc = pc;
    this.control = control;
    await pc.setLocalDescription(await pc.createOffer());
    await iceGatheringDone(pc, 2000);
    const response = await fetch(options.signallingUrl, {
      method: "POST",
      headers: { "Content-Type": "application/json", Authorization: `Bearer ${this.token}` },
      body: JSON.stringify({ type: "offer", sdp: pc.localDescription?.sdp ?? "" }),
    });
    const body = await response.json();
    if (!response.ok) throw new CloudPhoneError(body?.error?.code ?? "internal", body?.error?.message ?? response.statusText);
    await pc.setRemoteDescription({ type: "answer", sdp: body.sdp });
    this.instanceId = body.instance_id;
  }

  /**
   * Connects again with the same token (no new login): the SDK does it by itself when the
   * connection drops; call it after a network change you know of. The quality chosen is
   * asked for again. Fails (`session.token_invalid`) once the token is revoked or expired.
   */
  async reconnect() {
    if (this.ended) return;
    this.pc?.close();
    this.options.onConnectionStateChange?.("reconnecting");
    this.reconnects += 1;
    try {
      await this.open();
    } catch (e) {
      this.options.onError?.(e instanceof CloudPhoneError ? e : new CloudPhoneError("internal", String(e)));
      throw e;
    }
  }

  /**
   * Sends one control message (queued until the channel opens).
   * @param {ControlMessage} message
   */
  send(message) {
    if (this.control?.readyState === "open") this.control.send(JSON.stringify(message));
    else this.pending.push(message);
  }

  /**
   * A touch at (x, y) in a picture of width x height (the phone scales it to its screen).
   * @param {TouchAction} action
   * @param {number} pointerId
   * @param {number} x
   * @param {number} y
   * @param {number} width
   * @param {number} height
   */
  touch(action, pointerId, x, y, width, height) {
    this.send({ type: "touch", action, pointer_id: pointerId, x, y, width, height });
  }

  /**
   * A scroll (wheel, trackpad) at (x, y) in a picture of width x height; positive `dy` moves
   * towards the end of the content.
   * @param {number} x
   * @param {number} y
   * @param {number} dx
   * @param {number} dy
   * @param {number} width
   * @param {number} height
   */
  scroll(x, y, dx, dy, width, height) {
    this.send({ type: "scroll", x, y, dx, dy, width, height });
  }

  /**
   * A motion sensor reading from the user's device, in Android's units.
   * @param {SensorKind} sensor
   * @param {[number, number, number]} values x, y, z
   * @param {number} [timestampNs] when it was measured (the phone stamps arrival when absent)
   */
  sensor(sensor, values, timestampNs) {
    /** @type {ControlMessage} */
    const message = { type: "sensor", sensor, values };
    if (timestampNs !== undefined) message.timestamp_ns = timestampNs;
    this.send(message);
  }

  /**
   * A location fix from the user's device.
   * @param {LocationFix} fix
   */
  location(fix) {
    this.send({ type: "location", ...fix });
  }

  /**
   * An Android key by name, e.g. "KEYCODE_BACK".
   * @param {string} keycode
   * @param {KeyAction} [action]
   */
  key(keycode, action = "press") {
    this.send({ type: "key", action, keycode });
  }

  /**
   * Copies text into the phone's clipboard.
   * @param {string} text
   */
  clipboard(text) {
    this.send({ type: "clipboard", text });
  }

  /**
   * Turns the phone's screen (VMOS `setPhoneRotation`); `onRotation` reports the result.
   * @param {0 | 1 | 2 | 3} rotation quarter turns from upright
   */
  rotate(rotation) {
    this.send({ type: "rotate", rotation });
  }

  /**
   * Changes the video's quality by VMOS profile ids (VMOS `setStreamConfig`); ids left out stay
   * as they are. `onQuality` reports the result.
   * @param {{resolution?: number, fps?: number, bitrate?: number}} ids resolution 7 (144x256) to 17 (1080x1920), frame rate 1 to 9, bitrate 1 to 15 (docs/protocol.md)
   */
  setStreamConfig(ids) {
    /** @type {ControlMessage} */
    const message = { type: "quality" };
    if (ids.resolution !== undefined) message.resolution = ids.resolution;
    if (ids.fps !== undefined) message.fps = ids.fps;
    if (ids.bitrate !== undefined) message.bitrate = ids.bitrate;
    Object.assign(this.quality, ids);
    this.send(message);
  }

  /**
   * Sends a message to an app in the phone (edge-cloud messaging); its answers come to
   * `onAppMessage`.
   * @param {string} packageName the receiving app
   * @param {string} data any text, up to 16 KiB (JSON, say)
   */
  sendAppMessage(packageName, data) {
    this.send({ type: "app_message", package: packageName, data });
  }

  /**
   * Text typed into the phone's focused field.
   * @param {string} text
   */
  text(text) {
    if (text) this.send({ type: "text", text });
  }

  /**
   * Asks for a link that shares this session's phone with someone else: a spectator's unless
   * `role` is "controller" (only a controller may share control). The link (`view_url` of the
   * answer) expires with this session's token at the latest, and is revoked with it.
   * @param {{role?: "spectator" | "controller", ttlSeconds?: number}} [options]
   * @returns {Promise<{view_url: string, session_token: string, role: string, expires_at: string}>}
   */
  async share(options = {}) {
    const response = await fetch(this.shareUrl, {
      method: "POST",
      headers: { "Content-Type": "application/json", Authorization: `Bearer ${this.token}` },
      body: JSON.stringify({ role: options.role, ttl_seconds: options.ttlSeconds }),
    });
    const body = await response.json();
    if (!response.ok) throw new CloudPhoneError(body?.error?.code ?? "internal", body?.error?.message ?? response.statusText);
    return body;
  }

  /** Ends the session, and stops the camera and microphone it asked the browser for. */
  close() {
    this.ended = true;
    this.control?.close();
    this.pc?.close();
    for (const track of this.ownTracks) track.stop();
  }
}

/**
 * The rectangle the picture occupies inside a <video> (object-fit: contain letterboxes it).
 * @param {HTMLVideoElement} video
 * @returns {{left: number, top: number, width: number, height: number}}
 */
export function pictureRect(video) {
  const box = video.getBoundingClientRect();
  const vw = video.videoWidth || box.width;
  const vh = video.videoHeight || box.height;
  const scale = Math.min(box.width / vw, box.height / vh);
  const width = vw * scale;
  const height = vh * scale;
  return { left: box.left + (box.width - width) / 2, top: box.top + (box.height - height) / 2, width, height };
}

/**
 * Sends pointer input on `video` (mouse, pen, touch; multi-touch) to the phone as touches in
 * the video's own pixel coordinates.
 * @param {CloudPhoneSession} session
 * @param {HTMLVideoElement} video
 * @returns {() => void} removes the listeners
 */
export function attachPointerInput(session, video) {
  /** @type {Set<number>} */
  const down = new Set();
  /**
   * @param {PointerEvent} event
   * @param {TouchAction} action
   */
  const send = (event, action) => {
    const rect = pictureRect(video);
    const width = video.videoWidth;
    const height = video.videoHeight;
    if (!width || !height) return;
    const x = Math.min(Math.max(((event.clientX - rect.left) * width) / rect.width, 0), width - 1);
    const y = Math.min(Math.max(((event.clientY - rect.top) * height) / rect.height, 0), height - 1);
    session.touch(action, event.pointerId, x, y, width, height);
  };
  /** @param {PointerEvent} e */
  const onDown = (e) => {
    e.preventDefault();
    video.setPointerCapture(e.pointerId);
    down.add(e.pointerId);
    send(e, "down");
  };
  /** @param {PointerEvent} e */
  const onMove = (e) => {
    if (down.has(e.pointerId)) send(e, "move");
  };
  /**
   * @param {TouchAction} action
   * @returns {(e: PointerEvent) => void}
   */
  const onEnd = (action) => (e) => {
    if (!down.delete(e.pointerId)) return;
    send(e, action);
  };
  const onUp = onEnd("up");
  const onCancel = onEnd("cancel");
  /** @param {WheelEvent} e */
  const onWheel = (e) => {
    const rect = pictureRect(video);
    const width = video.videoWidth;
    const height = video.videoHeight;
    if (!width || !height) return;
    e.preventDefault();
    const scale = height / rect.height;
    const at = [(e.clientX - rect.left) * scale, (e.clientY - rect.top) * scale];
    session.scroll(at[0], at[1], e.deltaX * scale, e.deltaY * scale, width, height);
  };
  video.addEventListener("wheel", onWheel, { passive: false });
  video.addEventListener("pointerdown", onDown);
  video.addEventListener("pointermove", onMove);
  video.addEventListener("pointerup", onUp);
  video.addEventListener("pointercancel", onCancel);
  video.style.touchAction = "none";
  return () => {
    video.removeEventListener("pointerdown", onDown);
    video.removeEventListener("pointermove", onMove);
    video.removeEventListener("pointerup", onUp);
    video.removeEventListener("pointercancel", onCancel);
    video.removeEventListener("wheel", onWheel);
  };
}

/**
 * Sends the page's keyboard to the phone: printable characters as text, and Backspace, Enter,
 * Escape (BACK) and Home as keys.
 * @param {CloudPhoneSession} session
 * @param {HTMLElement | Document} target
 * @returns {() => void} removes the listener
 */
export function attachKeyboardInput(session, target) {
  /** @type {Record<string, string>} */
  const keys = { Backspace: "KEYCODE_DEL", Enter: "KEYCODE_ENTER", Escape: "KEYCODE_BACK", Home: "KEYCODE_HOME" };
  /** @param {Event} event */
  const onKey = (event) => {
    const e = /** @type {KeyboardEvent} */ (event);
    if (e.ctrlKey || e.metaKey || e.altKey) return;
    const keycode = keys[e.key];
    if (keycode) session.key(keycode);
    else if (e.key.length === 1) session.text(e.key);
    else return;
    e.preventDefault();
  };
  target.addEventListener("keydown", onKey);
  return () => target.removeEventListener("keydown", onKey);
}

/**
 * Sends the user's location to the phone as it changes (the browser asks the user first). The
 * session must allow `location`.
 * @param {CloudPhoneSession} session
 * @returns {() => void} stops sharing
 */
export function shareLocation(session) {
  const watch = navigator.geolocation.watchPosition(
    (position) => {
      const c = position.coords;
      /** @type {LocationFix} */
      const fix = { latitude: c.latitude, longitude: c.longitude, accuracy: c.accuracy };
      if (c.altitude !== null) fix.altitude = c.altitude;
      if (c.speed !== null) fix.speed = c.speed;
      if (c.heading !== null && !Number.isNaN(c.heading)) fix.bearing = c.heading;
      session.location(fix);
    },
    undefined,
    { enableHighAccuracy: true },
  );
  return () => navigator.geolocation.clearWatch(watch);
}

/**
 * Sends the device's motion sensors to the phone from `devicemotion` events: accelerometer
 * (with gravity, m/s²), gravity (the difference, when the device reports both) and gyroscope
 * (rad/s). Browsers have no magnetometer event; send one with `session.sensor` if you have it.
 * The session must allow `sensor`.
 * @param {CloudPhoneSession} session
 * @returns {() => void} stops sharing
 */
export function shareMotion(session) {
  const radians = Math.PI / 180;
  /** @param {DeviceMotionEvent} e */
  const onMotion = (e) => {
    const g = e.accelerationIncludingGravity;
    const a = e.acceleration;
    const r = e.rotationRate;
    if (g?.x != null && g.y != null && g.z != null) {
      session.sensor("accelerometer", [g.x, g.y, g.z]);
      if (a?.x != null && a.y != null && a.z != null) session.sensor("gravity", [g.x - a.x, g.y - a.y, g.z - a.z]);
    }
    if (r?.alpha != null && r.beta != null && r.gamma != null) {
      session.sensor("gyroscope", [r.beta * radians, r.gamma * radians, r.alpha * radians]);
    }
  };
  window.addEventListener("devicemotion", onMotion);
  return () => window.removeEventListener("devicemotion", onMotion);
}
