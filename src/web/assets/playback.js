// Playback queue for the agent's voice: binary PCM16 mono frames are scheduled back to back
// on an AudioContext (one AudioBufferSourceNode per frame). `mark(name)` remembers where the
// audio queued so far ends and calls `onMark(name)` once playback reaches that point — the
// page echoes it to the server, which learns what the person actually heard. `clear()`
// (barge-in) stops everything queued at once and forgets pending marks: that audio was
// never heard, so its marks must not be echoed.

export class PcmPlayer {
  constructor(ctx, sampleRate, { onMark, onIdle } = {}) {
    this.ctx = ctx;
    this.sampleRate = sampleRate;
    this.onMark = onMark || (() => {});
    this.onIdle = onIdle || (() => {});
    this.out = ctx.createGain();
    this.out.connect(ctx.destination);
    this.sources = new Set();
    this.marks = [];
    this.nextTime = 0;
    this.lead = 0.06; // seconds of buffer before the first frame of a burst starts
    this.carry = null; // an odd byte left over from a frame
    this.playedSeconds = 0;
    this.marksEchoed = 0;
    this.clears = 0;
    this.timer = null;
  }

  /** Queue one binary frame (ArrayBuffer of PCM s16le). */
  enqueue(arrayBuffer) {
    let bytes = new Uint8Array(arrayBuffer);
    if (this.carry !== null) {
      const joined = new Uint8Array(bytes.length + 1);
      joined[0] = this.carry;
      joined.set(bytes, 1);
      bytes = joined;
      this.carry = null;
    }
    if (bytes.length % 2 === 1) {
      this.carry = bytes[bytes.length - 1];
      bytes = bytes.subarray(0, bytes.length - 1);
    }
    const n = bytes.length / 2;
    if (n === 0) return;
    const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
    const buffer = this.ctx.createBuffer(1, n, this.sampleRate);
    const data = buffer.getChannelData(0);
    for (let i = 0; i < n; i++) data[i] = view.getInt16(i * 2, true) / 0x8000;
    const src = this.ctx.createBufferSource();
    src.buffer = buffer;
    src.connect(this.out);
    const now = this.ctx.currentTime;
    if (this.nextTime < now + 0.01) this.nextTime = now + this.lead; // underrun: restart with a lead
    src.start(this.nextTime);
    this.nextTime += buffer.duration;
    this.sources.add(src);
    src.onended = () => {
      if (!this.sources.delete(src)) return;
      this.playedSeconds += buffer.duration;
      this.check();
      if (this.sources.size === 0) this.onIdle();
    };
  }

  /** Is agent audio playing or queued? */
  get busy() {
    return this.sources.size > 0;
  }

  /** Call onMark(name) when everything queued before this mark has been played. */
  mark(name) {
    if (this.sources.size === 0 || this.nextTime <= this.ctx.currentTime) {
      this.echo(name);
      return;
    }
    this.marks.push({ name, at: this.nextTime });
    this.arm();
  }

  echo(name) {
    this.marksEchoed += 1;
    this.onMark(name);
  }

  arm() {
    if (this.timer || !this.marks.length) return;
    this.timer = setInterval(() => this.check(), 20);
  }

  check() {
    const now = this.ctx.currentTime;
    while (this.marks.length && (this.marks[0].at <= now + 0.005 || this.sources.size === 0)) {
      this.echo(this.marks.shift().name);
    }
    if (!this.marks.length && this.timer) {
      clearInterval(this.timer);
      this.timer = null;
    }
  }

  /** Barge-in: drop everything queued now; pending marks are not echoed. */
  clear() {
    this.clears += 1;
    this.marks = [];
    if (this.timer) {
      clearInterval(this.timer);
      this.timer = null;
    }
    for (const src of this.sources) {
      src.onended = null;
      try {
        src.stop();
      } catch {
        // already stopped
      }
      src.disconnect();
    }
    this.sources.clear();
    this.carry = null;
    this.nextTime = this.ctx.currentTime;
    this.onIdle();
  }

  /** Resolves once everything queued has played (or at once if nothing is queued). */
  drained() {
    if (this.sources.size === 0) return Promise.resolve();
    const wait = Math.max(0, this.nextTime - this.ctx.currentTime) * 1000 + 100;
    return new Promise((resolve) => setTimeout(resolve, wait));
  }

  close() {
    this.clear();
    this.out.disconnect();
  }
}
