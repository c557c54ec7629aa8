// A port's terminal: device output in binary messages, keystrokes back the same way, and the
// controls as JSON text messages (docs/design/dashboard.md, "A browser terminal is a client").
'use strict';

const name = decodeURIComponent(location.pathname.replace(/^\/ports\//, ''));
document.getElementById('port').textContent = name;
document.title = `${name} - ttynet`;

const terminal = new Terminal({ convertEol: false, scrollback: 10000 });
const fit = new FitAddon.FitAddon();
terminal.loadAddon(fit);
terminal.open(document.getElementById('terminal'));
fit.fit();
window.addEventListener('resize', () => fit.fit());

const socket = new WebSocket(
  `${location.protocol === 'https:' ? 'wss' : 'ws'}://${location.host}/ws/ports/${encodeURIComponent(name)}`);
socket.binaryType = 'arraybuffer';
const encoder = new TextEncoder();
const send = (control) => socket.send(JSON.stringify(control));

function show(state) {
  const role = document.getElementById('role');
  role.textContent = state.role;
  role.dataset.role = state.role;
  if (state.baud) document.getElementById('baud').value = state.baud;
  if (state.dtr !== undefined) document.getElementById('dtr').checked = state.dtr;
  if (state.rts !== undefined) document.getElementById('rts').checked = state.rts;
  for (const id of ['reset-application', 'reset-bootloader']) {
    document.getElementById(id).hidden = !state.esp;
  }
  const readOnly = state.role !== 'controller';
  for (const control of document.querySelectorAll('.controls input, .controls button')) {
    control.disabled = readOnly;
  }
}

socket.onopen = () => { document.getElementById('connection').textContent = 'connected'; };
socket.onmessage = (event) => {
  if (typeof event.data === 'string') {
    const message = JSON.parse(event.data);
    if (message.notice) terminal.write(`\r\n\x1b[33m[ttynet: ${message.notice}]\x1b[0m\r\n`);
    if (message.state) show(message.state);
  } else {
    terminal.write(new Uint8Array(event.data));
  }
};
socket.onclose = (event) => {
  document.getElementById('connection').textContent =
    `closed${event.reason ? ': ' + event.reason : ''}`;
  document.getElementById('role').textContent = 'disconnected';
};

terminal.onData((data) => { if (socket.readyState === WebSocket.OPEN) socket.send(encoder.encode(data)); });
document.getElementById('apply-baud').onclick =
  () => send({ baud: Number(document.getElementById('baud').value) });
document.getElementById('dtr').onchange = (event) => send({ dtr: event.target.checked });
document.getElementById('rts').onchange = (event) => send({ rts: event.target.checked });
document.getElementById('reset-application').onclick = () => send({ reset: 'application' });
document.getElementById('reset-bootloader').onclick = () => send({ reset: 'bootloader' });
