// AudioWorklet processor: microphone audio (float, the context's sample rate, any channel
// count) -> PCM signed 16-bit little-endian mono at the voice session's sample rate, posted
// to the page in frames of `frameMs` (20 ms by default) as transferable ArrayBuffers.
//
// Resampling: when downsampling (48 kHz -> 16 kHz) each output sample is the average of the
// input samples it covers (a box filter, enough against aliasing for speech); when
// upsampling, linear interpolation. Runs on the audio thread; no allocation per sample.

class PcmCaptureProcessor extends AudioWorkletProcessor {
  constructor(options) {
    super();
    const o = (options && options.processorOptions) || {};
    this.target = o.targetRate || 16000;
    this.ratio = sampleRate / this.target; // input samples per output sample
    this.frameSamples = Math.max(1, Math.round((this.target * (o.frameMs || 20)) / 1000));
    this.frame = new Int16Array(this.frameSamples);
    this.frameLen = 0;
    this.muted = false;
    // downsampling state
    this.acc = 0;
    this.accN = 0;
    this.phase = 0;
    // upsampling state
    this.prev = 0;
    this.t = 0;
    // level meter
    this.sumSq = 0;
    this.port.onmessage = (ev) => {
      if (ev.data && ev.data.type === 'mute') this.muted = Boolean(ev.data.muted);
    };
  }

  push(v) {
    const s = this.muted ? 0 : Math.max(-1, Math.min(1, v));
    this.sumSq += s * s;
    this.frame[this.frameLen++] = s < 0 ? Math.round(s * 0x8000) : Math.round(s * 0x7fff);
    if (this.frameLen === this.frameSamples) {
      const rms = Math.sqrt(this.sumSq / this.frameSamples);
      const buf = this.frame.buffer;
      this.port.postMessage({ pcm: buf, rms }, [buf]);
      this.frame = new Int16Array(this.frameSamples);
      this.frameLen = 0;
      this.sumSq = 0;
    }
  }

  process(inputs) {
    const input = inputs[0];
    if (!input || input.length === 0 || !input[0]) return true;
    const channels = input.length;
    const n = input[0].length;
    for (let i = 0; i < n; i++) {
      let x = input[0][i];
      if (channels > 1) {
        for (let c = 1; c < channels; c++) x += input[c][i];
        x /= channels;
      }
      if (this.ratio >= 1) {
        this.acc += x;
        this.accN += 1;
        this.phase += 1;
        if (this.phase >= this.ratio) {
          this.push(this.acc / this.accN);
          this.phase -= this.ratio;
          this.acc = 0;
          this.accN = 0;
        }
      } else {
        while (this.t < 1) {
          this.push(this.prev + (x - this.prev) * this.t);
          this.t += this.ratio;
        }
        this.t -= 1;
        this.prev = x;
      }
    }
    return true;
  }
}

registerProcessor('pcm-capture', PcmCaptureProcessor);
