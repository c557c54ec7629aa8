// The dashboard: one row per port, redrawn from the server's snapshots on /ws/events.
'use strict';

function formatBytes(n) {
  const units = ['B', 'KiB', 'MiB', 'GiB', 'TiB'];
  let unit = 0;
  while (n >= 1024 && unit < units.length - 1) { n /= 1024; unit++; }
  return (unit === 0 ? n : n.toFixed(1)) + ' ' + units[unit];
}

function formatDuration(seconds) {
  const s = Math.floor(seconds);
  const d = Math.floor(s / 86400), h = Math.floor(s / 3600) % 24, m = Math.floor(s / 60) % 60;
  if (d > 0) return `${d}d ${h}h`;
  if (h > 0) return `${h}h ${m}m`;
  return `${m}m ${s % 60}s`;
}

function cell(row, text, className) {
  const td = row.insertCell();
  td.textContent = text;
  if (className) td.className = className;
  return td;
}

function render(snapshot) {
  const body = document.querySelector('#ports tbody');
  body.replaceChildren();
  for (const port of snapshot.ports) {
    const row = body.insertRow();
    row.dataset.port = port.name;
    const link = document.createElement('a');
    link.href = '/ports/' + encodeURIComponent(port.name);
    link.textContent = port.name;
    row.insertCell().append(link);
    cell(row, port.device);
    cell(row, port.identity);
    cell(row, port.protocol + (port.esp ? ' + ESP' : ''));
    cell(row, port.tcp_ports.join(', ') + (port.monitor_port ? ` (monitor ${port.monitor_port})` : ''));
    cell(row, port.state, 'state ' + port.state.replace(' ', '-'));
    const clients = row.insertCell();
    clients.className = 'clients';
    for (const client of port.clients) {
      const line = document.createElement('span');
      line.className = 'client';
      line.textContent = client.peer + ' ';
      const role = document.createElement('span');
      role.className = 'role';
      role.textContent = client.role;
      line.append(role);
      clients.append(line);
    }
    cell(row, formatBytes(port.bytes_to_device), 'number to-device');
    cell(row, formatBytes(port.bytes_from_device), 'number from-device');
    cell(row, String(port.resets.bootloader + port.resets.application), 'number resets');
    cell(row, port.last_error, 'error');
    cell(row, formatDuration(port.uptime_seconds), 'number');
  }
  const clients = snapshot.ports.reduce((n, port) => n + port.clients.length, 0);
  document.getElementById('summary').textContent =
    `${snapshot.ports.length} ports, ${clients} clients`;
}

function connect() {
  const status = document.getElementById('connection');
  const socket = new WebSocket(`${location.protocol === 'https:' ? 'wss' : 'ws'}://${location.host}/ws/events`);
  socket.onopen = () => { status.textContent = 'live'; };
  socket.onmessage = (event) => render(JSON.parse(event.data));
  socket.onclose = () => {
    status.textContent = 'disconnected; retrying…';
    setTimeout(connect, 2000);
  };
}

connect();
