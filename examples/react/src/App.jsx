import { useEffect, useState } from 'react';

import { usePeerset } from './usePeerset.js';

export function App({ options }) {
  // Leaving unmounts the room (the hook closes the database); joining mounts it again.
  const [joined, setJoined] = useState(true);
  return (
    <main>
      <header>
        <h1>peerset · React</h1>
        <span className="room">room <b>{options.room}</b></span>
        <button id="join" type="button" onClick={() => setJoined((j) => !j)}>{joined ? 'Leave' : 'Join'}</button>
      </header>
      {joined ? <Room options={options} /> : <p className="muted">Not in the room.</p>}
    </main>
  );
}

function Room({ options }) {
  const { db, records, stats, error, put } = usePeerset(options);
  const [text, setText] = useState('');
  const [putError, setPutError] = useState(null);

  // For tests and the console: the open database, and a flag once it is open.
  useEffect(() => {
    if (!db) return undefined;
    window.db = db;
    document.body.dataset.ready = '1';
    return () => {
      if (window.db === db) delete window.db;
      delete document.body.dataset.ready;
    };
  }, [db]);

  const submit = async (e) => {
    e.preventDefault();
    if (!text.trim()) return;
    setPutError(null);
    try {
      await put(text);
      setText('');
    } catch (err) {
      setPutError(err);
    }
  };

  const shownError = error || putError;
  return (
    <>
      <p className="status">
        {db ? 'open' : error ? 'failed' : 'opening…'}
        {' · '}peers <b id="peers">{stats ? stats.peers : 0}</b>
        {' · '}records <b id="record-count">{records.length}</b>
      </p>
      {shownError && <p id="error" role="alert">{shownError.message}</p>}
      <form onSubmit={submit}>
        <input id="text" value={text} onChange={(e) => setText(e.target.value)} placeholder="Say something" maxLength={500} disabled={!db} />
        <button id="put" type="submit" disabled={!db || !text.trim()}>Put</button>
      </form>
      <ul id="records">
        {records.slice(0, 200).map((r) => (
          <li key={r.id} data-uuid={r.uuid}>
            <span className="text">{r.text ?? JSON.stringify(r.data)}</span>
            <span className="meta">{r.author.slice(0, 12)}… · {new Date(r.createdAt).toLocaleTimeString()}</span>
          </li>
        ))}
      </ul>
      {records.length > 200 && <p className="muted">and {records.length - 200} more</p>}
    </>
  );
}
