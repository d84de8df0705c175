// Talk: a voice call with an agent in the browser.
// POST /voice/sessions -> WebSocket ws_url?ticket=… ; the microphone goes through an
// AudioWorklet (pcm-capture-worklet.js) that sends PCM16 mono frames at the session's rate;
// the agent's PCM16 frames play through PcmPlayer, which honours `clear` and echoes marks.
// The page shows the live transcript, tool calls, per-turn latency and the call's end.
// "With avatar" starts it through POST /avatar/sessions instead (the same voice session plus
// a LiveAvatar LITE avatar that speaks the agent's audio): the page shows the avatar
// session's state and the month's avatar minutes; the video itself needs the LiveKit
// browser client (window.LivekitClient), which the console does not bundle.

import { api, has, listAll, wsUrl } from '../api.js';
import { PcmPlayer } from '../playback.js';
import {
  h, replace, pageHeader, loadError, field, formError, onSubmit, fmtDuration, fmtCredits, humanize,
  toast, nextId,
} from '../ui.js';
import { toolCallView } from './chat.js';

const RATES = [8000, 16000, 24000, 48000];

export async function talk(main, _params, query) {
  main.append(pageHeader('Talk'));
  let agents = [];
  if (has('/agents')) {
    try {
      agents = await listAll('/agents', {}, 3);
    } catch (err) {
      main.append(loadError(err, 'Agents are'));
      return undefined;
    }
  }

  const wanted = query.get('agent');
  const setupError = formError();
  const agentField = agents.length
    ? field({ label: 'Agent', name: 'agent_id', type: 'select', options: agents.map((a) => [a.id, a.name]), value: wanted || agents[0].id })
    : field({ label: 'Agent id', name: 'agent_id', required: true, value: wanted || '' });
  const startBtn = h('button', { type: 'submit', class: 'primary big' }, 'Start call');
  const avatarOpts = has('/avatar/sessions', 'post') ? avatarSetup() : null;
  const setup = h('form', { class: 'form talk-setup', 'aria-label': 'Start a call' },
    setupError,
    h('div', { class: 'row wrap' }, agentField, h('div', { class: 'align-end' }, startBtn)),
    avatarOpts ? avatarOpts.el : null,
    h('p', { class: 'muted' }, 'Your browser will ask to use the microphone. You can also type.'));

  const callArea = h('div', { class: 'call', hidden: true });
  main.append(setup, callArea);

  let call = null;
  onSubmit(setup, async (v) => {
    if (call) return;
    const avatar = v.with_avatar ? { avatarId: (v.avatar_id || '').trim() || undefined } : null;
    call = new Call(callArea, v.agent_id, {
      avatar,
      onEnd: () => {
        call = null;
        startBtn.disabled = false;
        setup.hidden = false;
        if (avatarOpts) avatarOpts.refresh();
      },
    });
    try {
      await call.start();
      setup.hidden = true;
    } catch (err) {
      call.dispose();
      call = null;
      callArea.hidden = true;
      if (err.status === 402 && err.code === 'quota_exceeded') {
        err.detail = `${err.detail || 'No avatar minutes are left.'} Start the call without the avatar, or wait for the quota to reset.`;
      } else if (err.status === 402) {
        err.detail = `${err.detail || 'Not enough credits.'} Add credits in the wallet to start a call.`;
      }
      throw err;
    }
  });

  return () => {
    if (call) call.hangUp(true);
  };
}

/** The "with avatar" option and this month's avatar minutes. */
function avatarSetup() {
  const quota = h('p', { class: 'meta avatar-quota', 'aria-live': 'polite' }, 'Avatar minutes: …');
  const el = h('fieldset', { class: 'avatar-setup' },
    h('legend', null, 'Avatar'),
    field({ label: 'With avatar (a talking face for the agent)', name: 'with_avatar', type: 'checkbox' }),
    field({ label: 'Avatar id', name: 'avatar_id', placeholder: 'the server default', hint: 'A LiveAvatar avatar id (optional).' }),
    quota);
  const refresh = async () => {
    try {
      const q = await api.get('/avatar/quota');
      quota.textContent = `Avatar minutes this month (${q.period}): ${q.minutes_used} used, `
        + `${q.minutes_reserved} in use, ${q.minutes_remaining} of ${q.minutes_allowed} left · resets ${new Date(q.resets_at).toLocaleDateString()}`;
      quota.dataset.remaining = String(q.minutes_remaining);
    } catch (err) {
      quota.textContent = `Avatar minutes unavailable (${err.detail || err.message}).`;
    }
  };
  refresh();
  return { el, refresh };
}

function capitalize(s) {
  return s ? s[0].toUpperCase() + s.slice(1) : s;
}

class Call {
  constructor(root, agentId, { onEnd, avatar }) {
    this.root = root;
    this.agentId = agentId;
    this.onEnd = onEnd;
    this.avatar = avatar;
    this.avatarSession = null;
    this.room = null;
    this.ws = null;
    this.ctx = null;
    this.player = null;
    this.stream = null;
    this.worklet = null;
    this.session = null;
    this.rate = 16000;
    this.ended = false;
    this.typed = [];
    this.userLine = null;
    this.agentLine = null;
    this.agentText = '';
    this.framesSent = 0;
    this.build();
  }

  build() {
    this.status = h('p', { class: 'call-status', role: 'status', 'aria-live': 'polite' }, 'Connecting…');
    this.meter = h('meter', { min: '0', max: '1', value: '0', 'aria-label': 'Microphone level' });
    this.muteBtn = h('button', {
      type: 'button', class: 'secondary', 'aria-pressed': 'false',
      onclick: () => this.toggleMute(),
    }, 'Mute microphone');
    this.stopBtn = h('button', { type: 'button', class: 'secondary', disabled: true, onclick: () => this.interrupt() }, 'Stop speaking');
    this.endBtn = h('button', { type: 'button', class: 'danger', onclick: () => this.hangUp() }, 'End call');
    this.log = h('ol', { class: 'messages transcript live', role: 'log', 'aria-live': 'polite', 'aria-label': 'Live transcript' });
    this.tools = h('div', { class: 'tool-list' });
    this.metricsBody = h('tbody');
    this.metricsTable = h('div', { class: 'table-wrap', hidden: true }, h('table', { class: 'table metrics' },
      h('caption', null, 'Latency per turn (ms)'),
      h('thead', null, h('tr', null, ['Turn', 'Speech to text', 'LLM first token', 'TTS first byte', 'Response'].map((c) => h('th', { scope: 'col' }, c)))),
      this.metricsBody));
    this.audioStats = h('p', { class: 'meta audio-stats', dataset: { playedSeconds: '0', marksEchoed: '0' } }, 'Agent audio played: 0.0 s');
    this.summary = h('div', { class: 'call-summary', hidden: true });

    const inputId = nextId('say');
    this.textInput = h('input', { id: inputId, name: 'text', type: 'text', autocomplete: 'off', placeholder: 'Type a message instead of speaking' });
    this.textForm = h('form', { class: 'composer talk-text', 'aria-label': 'Type to the agent' },
      h('label', { for: inputId, class: 'visually-hidden' }, 'Say (typed)'),
      this.textInput,
      h('div', { class: 'composer-actions' }, h('button', { type: 'submit', class: 'primary' }, 'Send')),
      formError());
    onSubmit(this.textForm, async (v) => {
      const text = v.text.trim();
      if (!text) return;
      if (!this.send({ type: 'text', text })) throw new Error('The call is not connected.');
      this.typed.push(text);
      this.addLine('user', text, true);
      this.textInput.value = '';
    });

    this.avatarPanel = h('section', { class: 'panel avatar-panel', 'aria-labelledby': 'av-h', hidden: !this.avatar },
      h('h2', { id: 'av-h' }, 'Avatar'),
      this.avatarState = h('p', { class: 'meta avatar-state', role: 'status' }, 'Starting the avatar…'),
      this.avatarVideo = h('div', { class: 'avatar-video' }));
    replace(this.root,
      this.avatarPanel,
      h('div', { class: 'call-bar' }, this.status,
        h('div', { class: 'mic' }, h('span', { class: 'muted', 'aria-hidden': 'true' }, 'Mic'), this.meter),
        h('div', { class: 'row wrap' }, this.muteBtn, this.stopBtn, this.endBtn)),
      this.summary,
      h('div', { class: 'call-grid' },
        h('section', { class: 'panel', 'aria-labelledby': 'tr-h' }, h('h2', { id: 'tr-h' }, 'Transcript'), this.log, this.textForm),
        h('section', { class: 'panel', 'aria-labelledby': 'act-h' }, h('h2', { id: 'act-h' }, 'What the agent did'),
          this.tools, this.metricsTable, this.audioStats)));
    this.root.hidden = false;
  }

  setStatus(text, state) {
    this.status.textContent = text;
    this.status.dataset.state = state || '';
  }

  async start() {
    if (this.avatar) {
      const body = { agent_id: this.agentId };
      if (this.avatar.avatarId) body.avatar_id = this.avatar.avatarId;
      this.avatarSession = await api.post('/avatar/sessions', body);
      this.session = this.avatarSession.voice;
      this.showAvatar();
    } else {
      this.session = await api.post('/voice/sessions', { agent_id: this.agentId });
    }
    const rate = Number(this.session.audio?.sample_rate);
    this.rate = RATES.includes(rate) ? rate : 16000;
    // The AudioContext must be created in the click that started the call (autoplay rules).
    const Ctx = window.AudioContext || window.webkitAudioContext;
    this.ctx = new Ctx({ latencyHint: 'interactive' });
    await this.ctx.resume().catch(() => {});
    try {
      this.stream = await navigator.mediaDevices.getUserMedia({
        audio: { channelCount: 1, echoCancellation: true, noiseSuppression: true, autoGainControl: true },
      });
    } catch (err) {
      this.stream = null;
      this.muteBtn.disabled = true;
      this.addNotice(`Microphone unavailable (${err.name || err.message}); you can still type.`);
    }
    this.open();
  }

  open() {
    const url = wsUrl(this.session.ws_url || `/voice/sessions/${this.session.session_id}/ws`, { ticket: this.session.ticket });
    const ws = new WebSocket(url);
    ws.binaryType = 'arraybuffer';
    this.ws = ws;
    ws.addEventListener('open', () => {
      this.setStatus('Connected — waiting for the agent…', 'connecting');
      this.send({ type: 'start', sample_rate: this.rate });
    });
    ws.addEventListener('message', (msg) => {
      if (typeof msg.data === 'string') {
        let ev;
        try {
          ev = JSON.parse(msg.data);
        } catch {
          return;
        }
        this.onEvent(ev);
      } else if (this.player) {
        this.player.enqueue(msg.data);
        this.stopBtn.disabled = false;
      }
    });
    ws.addEventListener('close', (ev) => {
      if (!this.ended) {
        this.addNotice(`The connection closed${ev.reason ? `: ${ev.reason}` : ''} (code ${ev.code}).`);
        this.finish();
      }
    });
  }

  /** The avatar's state, and its video when the LiveKit browser client is on the page. */
  async showAvatar() {
    const a = this.avatarSession;
    this.avatarPanel.dataset.avatarSession = a.id;
    this.avatarState.dataset.state = 'active';
    this.avatarState.textContent = `Avatar session active (LiveAvatar ${a.avatar.session_id}). It speaks the agent's voice.`;
    const LK = window.LivekitClient;
    if (!LK || !a.avatar.livekit_url || !a.avatar.livekit_token) {
      replace(this.avatarVideo, h('p', { class: 'muted avatar-no-video' },
        "The avatar's video needs the LiveKit browser client (livekit-client), which this console does not bundle. "
        + 'Load it on the page to watch the avatar; the call works without it.'));
      return;
    }
    try {
      this.room = new LK.Room();
      this.room.on(LK.RoomEvent.TrackSubscribed, (track) => {
        // Video only: the agent's voice already plays from the voice socket.
        if (track.kind === 'video') this.avatarVideo.replaceChildren(track.attach());
      });
      await this.room.connect(a.avatar.livekit_url, a.avatar.livekit_token);
    } catch (err) {
      replace(this.avatarVideo, h('p', { class: 'muted' }, `Could not join the avatar's room (${err.message}).`));
    }
  }

  async avatarEnded() {
    if (!this.avatarSession) return;
    if (this.room) this.room.disconnect();
    this.room = null;
    try {
      const a = await api.get(`/avatar/sessions/${this.avatarSession.id}`);
      this.avatarState.dataset.state = a.status;
      this.avatarState.textContent = a.status === 'ended'
        ? `Avatar session ended (${humanize(a.end_reason || 'ended')}) · ${a.minutes_charged ?? 0} avatar minute(s) used.`
        : `Avatar session ${a.status}.`;
    } catch {
      this.avatarState.textContent = 'Avatar session ended.';
    }
  }

  send(obj) {
    if (!this.ws || this.ws.readyState !== WebSocket.OPEN) return false;
    this.ws.send(JSON.stringify(obj));
    return true;
  }

  async startCapture() {
    if (!this.stream || this.worklet) return;
    try {
      await this.ctx.audioWorklet.addModule('/assets/pcm-capture-worklet.js');
      const source = this.ctx.createMediaStreamSource(this.stream);
      this.worklet = new AudioWorkletNode(this.ctx, 'pcm-capture', {
        numberOfInputs: 1,
        numberOfOutputs: 1,
        outputChannelCount: [1],
        processorOptions: { targetRate: this.rate, frameMs: 20 },
      });
      this.worklet.port.onmessage = (ev) => {
        const { pcm, rms } = ev.data;
        if (this.ws && this.ws.readyState === WebSocket.OPEN) {
          this.ws.send(pcm);
          this.framesSent += 1;
        }
        this.meter.value = Math.min(1, rms * 4);
      };
      // A silent sink keeps the worklet pulled by the audio graph on every browser.
      const sink = this.ctx.createGain();
      sink.gain.value = 0;
      source.connect(this.worklet);
      this.worklet.connect(sink);
      sink.connect(this.ctx.destination);
      this.source = source;
    } catch (err) {
      this.addNotice(`Could not start the microphone (${err.message}); you can still type.`);
    }
  }

  onEvent(ev) {
    switch (ev.type) {
      case 'ready': {
        const rate = Number(ev.sample_rate);
        if (RATES.includes(rate)) this.rate = rate;
        this.callId = ev.call_id || this.session.call_id;
        this.player = new PcmPlayer(this.ctx, this.rate, {
          onMark: (name) => {
            this.send({ type: 'mark', name });
            this.updateAudioStats();
          },
          onIdle: () => {
            this.stopBtn.disabled = true;
            if (!this.ended) this.setStatus('Listening…', 'listening');
            this.updateAudioStats();
          },
        });
        this.statsTimer = setInterval(() => this.updateAudioStats(), 250);
        this.setStatus('Listening…', 'listening');
        this.startCapture();
        this.textInput.focus();
        break;
      }
      case 'transcript':
        if (ev.role && ev.role !== 'user') {
          this.addLine(ev.role, ev.text, true);
          break;
        }
        if (ev.final && this.typed.length && this.typed[0] === ev.text) {
          this.typed.shift(); // our own typed text, already shown
          if (this.userLine && !this.userLine.dataset.final) { this.userLine.remove(); this.userLine = null; }
          break;
        }
        if (!this.userLine) this.userLine = this.addLine('user', '', false);
        this.userLine.querySelector('.msg-text').textContent = ev.text || '';
        if (ev.final) {
          this.userLine.dataset.final = 'true';
          this.userLine.classList.remove('interim');
          this.userLine = null;
          this.agentLine = null; // the next response is a new turn
          this.agentText = '';
        }
        break;
      case 'response': {
        if (!this.agentLine) {
          this.agentLine = this.addLine('assistant', '', false);
          this.agentText = '';
        }
        const t = ev.text || '';
        if (t.startsWith(this.agentText)) this.agentText = t; // cumulative text
        else if (ev.final && t.length >= this.agentText.length) this.agentText = t;
        else this.agentText += t; // deltas
        this.agentLine.querySelector('.msg-text').textContent = this.agentText;
        if (ev.final) {
          this.agentLine.classList.remove('interim');
          this.agentLine.dataset.final = 'true';
          this.agentLine = null;
          this.agentText = '';
        }
        break;
      }
      case 'audio_start':
        this.setStatus('Agent speaking…', 'speaking');
        this.stopBtn.disabled = false;
        break;
      case 'mark':
        if (this.player) this.player.mark(ev.name);
        else this.send({ type: 'mark', name: ev.name });
        break;
      case 'clear':
        if (this.player) this.player.clear();
        this.markInterrupted();
        this.setStatus('Listening… (you interrupted)', 'listening');
        break;
      case 'tool_call':
        this.tools.appendChild(toolCallView(ev));
        this.log.appendChild(h('li', { class: 'msg msg-tool' }, toolCallView(ev)));
        break;
      case 'metrics':
        this.metricsTable.hidden = false;
        this.metricsBody.appendChild(h('tr', null,
          [ev.turn, ev.stt_ms, ev.llm_first_token_ms, ev.tts_first_byte_ms, ev.response_latency_ms]
            .map((x) => h('td', { class: 'num' }, x === undefined || x === null ? '—' : String(Math.round(x))))));
        break;
      case 'error':
        this.log.appendChild(h('li', { class: 'msg msg-error', role: 'alert' },
          `${ev.message || 'Something went wrong'}${ev.code ? ` (${ev.code})` : ''}`));
        break;
      case 'ended':
        this.ended = true;
        this.showSummary(ev);
        this.finish();
        break;
      default:
        break;
    }
  }

  addLine(role, text, final) {
    const li = h('li', { class: `msg msg-${role}${final ? '' : ' interim'}` },
      h('div', { class: 'msg-role' }, role === 'user' ? 'You' : role === 'assistant' ? 'Agent' : humanize(role)),
      h('div', { class: 'msg-text' }, text || ''));
    if (final) li.dataset.final = 'true';
    this.log.querySelector('.empty')?.remove();
    this.log.appendChild(li);
    li.scrollIntoView({ block: 'nearest' });
    return li;
  }

  addNotice(text) {
    this.log.appendChild(h('li', { class: 'msg msg-notice' }, text));
  }

  markInterrupted() {
    const line = this.agentLine || [...this.log.querySelectorAll('.msg-assistant')].pop();
    if (line && !line.querySelector('.interrupted')) line.appendChild(h('span', { class: 'interrupted' }, ' (interrupted)'));
  }

  interrupt() {
    this.send({ type: 'interrupt' });
    if (this.player) this.player.clear();
    this.markInterrupted();
  }

  toggleMute() {
    this.muted = !this.muted;
    this.muteBtn.setAttribute('aria-pressed', String(this.muted));
    this.muteBtn.textContent = this.muted ? 'Unmute microphone' : 'Mute microphone';
    if (this.worklet) this.worklet.port.postMessage({ type: 'mute', muted: this.muted });
  }

  updateAudioStats() {
    if (!this.player) return;
    const played = this.player.playedSeconds;
    this.audioStats.dataset.playedSeconds = played.toFixed(2);
    this.audioStats.dataset.marksEchoed = String(this.player.marksEchoed);
    this.audioStats.textContent = `Agent audio played: ${played.toFixed(1)} s · marks echoed: ${this.player.marksEchoed} · microphone frames sent: ${this.framesSent}`;
  }

  showSummary(ev) {
    replace(this.summary,
      h('h2', null, 'Call ended'),
      h('p', null,
        `${capitalize(humanize(ev.reason || 'ended'))} · ${fmtDuration(ev.duration_ms)} · ${fmtCredits(ev.cost_credits)}`),
      ev.call_id || this.callId
        ? h('p', null, h('a', { href: `#/calls/${ev.call_id || this.callId}` }, 'Call details and transcript'))
        : null);
    this.summary.hidden = false;
    this.setStatus('Call ended', 'ended');
  }

  /** End from our side: ask the server (it answers with `ended`), or DELETE when offline. */
  hangUp(leaving = false) {
    if (this.ended) {
      this.dispose();
      return;
    }
    this.endBtn.disabled = true;
    if (!this.send({ type: 'end' }) && this.session) {
      const path = this.avatarSession ? `/avatar/sessions/${this.avatarSession.id}` : `/voice/sessions/${this.session.session_id}`;
      api.del(path).catch(() => {});
      this.finish();
    }
    if (leaving) {
      this.ended = true;
      this.dispose();
    }
  }

  async finish() {
    if (this.finished) return;
    this.finished = true;
    this.endBtn.disabled = true;
    this.muteBtn.disabled = true;
    this.textForm.querySelectorAll('input, button').forEach((el) => { el.disabled = true; });
    if (!this.ended) this.setStatus('Disconnected', 'ended');
    this.stopCapture();
    // Let the last words (e.g. a goodbye) finish playing before closing the audio.
    if (this.player) await this.player.drained();
    this.updateAudioStats();
    await this.avatarEnded();
    this.dispose();
    this.onEnd?.();
    if (!this.summary.hidden) this.summary.querySelector('a')?.focus();
    else toast('The call ended.');
  }

  stopCapture() {
    if (this.worklet) {
      this.worklet.port.onmessage = null;
      this.worklet.disconnect();
      this.worklet = null;
    }
    if (this.source) this.source.disconnect();
    if (this.stream) this.stream.getTracks().forEach((t) => t.stop());
    this.stream = null;
  }

  dispose() {
    clearInterval(this.statsTimer);
    if (this.room) this.room.disconnect();
    this.room = null;
    this.stopCapture();
    if (this.ws && this.ws.readyState <= WebSocket.OPEN) this.ws.close(1000, 'bye');
    if (this.player) {
      this.player.close();
    }
    if (this.ctx && this.ctx.state !== 'closed') this.ctx.close().catch(() => {});
  }
}
