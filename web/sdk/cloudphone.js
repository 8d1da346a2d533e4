// @ts-check
/**
 * cloudphone browser SDK: opens a WebRTC session to a cloud phone, shows its screen in a
 * <video> element and sends touches, keys and text on the `control` data channel.
 * The wire format is documented in docs/protocol.md; types are checked with `tsc --checkJs`.
 */

/** @typedef {"down" | "move" | "up" | "cancel"} TouchAction */
/** @typedef {"down" | "up" | "press"} KeyAction */
/**
 * @typedef {{type: "touch", action: TouchAction, pointer_id: number, x: number, y: number, width: number, height: number}
 *   | {type: "scroll", x: number, y: number, dx: number, dy: number, width: number, height: number}
 *   | {type: "key", action: KeyAction, keycode: string}
 *   | {type: "text", text: string}
 *   | {type: "clipboard", text: string}
 *   | {type: "rotate", rotation: 0 | 1 | 2 | 3}} ControlMessage
 */
/**
 * @typedef {object} ConnectOptions
 * @property {string} signallingUrl where to POST the SDP offer
 * @property {string} token the session token from `POST /v1/instances/{id}/sessions`
 * @property {HTMLVideoElement} video where the phone's screen is shown
 * @property {(error: CloudPhoneError) => void} [onError] errors the phone or server reports mid-session
 * @property {(state: RTCPeerConnectionState) => void} [onConnectionStateChange]
 * @property {(text: string) => void} [onClipboard] the phone's clipboard changed on the phone (VMOS `onOutputClipper`); only for sessions opened with the clipboard category
 * @property {(rotation: number, width: number, height: number) => void} [onRotation] the screen turned (quarter turns; VMOS `onChangeRotate`)
 * @property {(packageName: string) => void} [onForeground] another app came to the front
 * @property {(secondsLeft: number) => void} [onIdleWarning] no input for a while: the session is recycled in `secondsLeft` unless some comes (VMOS `onAutoRecycleTime`)
 * @property {(reason: string) => void} [onSessionEnded] the server ended the session: `idle` or `revoked`
 * @property {(stats: {rtt_ms?: number, loss?: number, fps: number, bitrate_kbps: number, bandwidth_kbps?: number, codec: string, width: number, height: number, encode_ms?: number}) => void} [onRunInformation] every 2 s, how the session is doing (VMOS `onRunInformation`)
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

/** A live session with one cloud phone. */
export class CloudPhoneSession {
  /**
   * @param {RTCPeerConnection} pc
   * @param {RTCDataChannel} control
   * @param {string} instanceId
   */
  constructor(pc, control, instanceId) {
    this.pc = pc;
    this.control = control;
    this.instanceId = instanceId;
    /** @type {ControlMessage[]} messages sent before the channel opened */
    this.pending = [];
    control.addEventListener("open", () => {
      for (const m of this.pending.splice(0)) control.send(JSON.stringify(m));
    });
  }

  /**
   * Connects to the phone the token opens.
   * @param {ConnectOptions} options
   * @returns {Promise<CloudPhoneSession>}
   */
  static async connect(options) {
    const pc = new RTCPeerConnection({ iceServers: [] });
    pc.addTransceiver("video", { direction: "recvonly" });
    const control = pc.createDataChannel(CONTROL_CHANNEL_LABEL, { ordered: true });
    pc.addEventListener("track", (event) => {
      options.video.srcObject = event.streams[0] ?? new MediaStream([event.track]);
    });
    pc.addEventListener("connectionstatechange", () => options.onConnectionStateChange?.(pc.connectionState));
    control.addEventListener("message", (event) => {
      try {
        const message = JSON.parse(String(event.data));
        switch (message.type) {
          case "error":
            options.onError?.(new CloudPhoneError(message.code, message.message));
            break;
          case "clipboard":
            options.onClipboard?.(message.text);
            break;
          case "rotation":
            options.onRotation?.(message.rotation, message.width, message.height);
            break;
          case "foreground":
            options.onForeground?.(message.package);
            break;
          case "stats":
            options.onRunInformation?.(message);
            break;
          case "idle_warning":
            options.onIdleWarning?.(message.seconds_left);
            break;
          case "session_ended":
            options.onSessionEnded?.(message.reason);
            break;
          // Newer servers may send more kinds; an older SDK ignores them.
        }
      } catch {
        options.onError?.(new CloudPhoneError("control.invalid_message", "the phone sent a message that is not JSON"));
      }
    });
    await pc.setLocalDescription(await pc.createOffer());
    await iceGatheringDone(pc, 2000);
    const response = await fetch(options.signallingUrl, {
      method: "POST",
      headers: { "Content-Type": "application/json", Authorization: `Bearer ${options.token}` },
      body: JSON.stringify({ type: "offer", sdp: pc.localDescription?.sdp ?? "" }),
    });
    const body = await response.json();
    if (!response.ok) {
      pc.close();
      throw new CloudPhoneError(body?.error?.code ?? "internal", body?.error?.message ?? response.statusText);
    }
    await pc.setRemoteDescription({ type: "answer", sdp: body.sdp });
    return new CloudPhoneSession(pc, control, body.instance_id);
  }

  /**
   * Sends one control message (queued until the channel opens).
   * @param {ControlMessage} message
   */
  send(message) {
    if (this.control.readyState === "open") this.control.send(JSON.stringify(message));
    else if (this.control.readyState === "connecting") this.pending.push(message);
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
   * Text typed into the phone's focused field.
   * @param {string} text
   */
  text(text) {
    if (text) this.send({ type: "text", text });
  }

  /** Ends the session. */
  close() {
    this.control.close();
    this.pc.close();
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
    session.send({
      type: "scroll",
      x: (e.clientX - rect.left) * scale,
      y: (e.clientY - rect.top) * scale,
      dx: e.deltaX * scale,
      dy: e.deltaY * scale,
      width,
      height,
    });
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
