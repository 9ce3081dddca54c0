#include "arena/page.h"

namespace erank::arena {

const char* const kIndexHtml = R"HTML(<!doctype html>
<html lang="en"><head><meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>erank arena</title><link rel="stylesheet" href="/style.css"></head>
<body data-page="arena">
<header><h1>erank arena</h1><nav><a href="/">Arena</a> · <a href="/leaderboard">Leaderboard</a></nav></header>
<main>
<p class="hint">Ask anything. Two anonymous models answer side by side; vote for the better answer,
then their names are revealed.</p>
<form id="ask-form"><textarea id="prompt" rows="3" maxlength="4000"
placeholder="Type a prompt…"></textarea><button id="ask" type="submit">Send</button></form>
<section class="sides">
<div class="side"><h2 id="name-a">Model A</h2><pre id="answer-a" class="answer"></pre></div>
<div class="side"><h2 id="name-b">Model B</h2><pre id="answer-b" class="answer"></pre></div>
</section>
<section class="votes">
<button id="vote-a" data-winner="model_a" disabled>&larr; A is better</button>
<button id="vote-tie" data-winner="tie" disabled>Tie</button>
<button id="vote-bad" data-winner="tie (bothbad)" disabled>Both are bad</button>
<button id="vote-b" data-winner="model_b" disabled>B is better &rarr;</button>
</section>
<p id="status" role="status"></p>
<button id="again" hidden>New round</button>
</main><script src="/app.js"></script></body></html>
)HTML";

const char* const kLeaderboardHtml = R"HTML(<!doctype html>
<html lang="en"><head><meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>erank arena leaderboard</title><link rel="stylesheet" href="/style.css"></head>
<body data-page="leaderboard">
<header><h1>erank arena</h1><nav><a href="/">Arena</a> · <a href="/leaderboard">Leaderboard</a></nav></header>
<main>
<p id="summary">Loading…</p>
<table id="board"><thead><tr><th>Rank</th><th>Model</th><th>Rating (BT)</th><th>95% interval</th>
<th>Elo (online)</th><th>Battles</th></tr></thead><tbody></tbody></table>
<p class="hint">Rank: 1 + the number of models whose interval lies wholly above this one's.
Ratings: Bradley-Terry maximum likelihood on the Elo scale, intervals by bootstrap.</p>
<img id="forest" alt="Ratings with 95% intervals">
</main><script src="/app.js"></script></body></html>
)HTML";

// All dynamic text goes through textContent: model output and prompts are never markup.
const char* const kAppJs = R"JS('use strict';
const $ = (id) => document.getElementById(id);

async function postJson(url, body) {
  const r = await fetch(url, {method: 'POST', headers: {'Content-Type': 'application/json'},
                              body: JSON.stringify(body)});
  let j = {};
  try { j = await r.json(); } catch (e) { j = {error: 'HTTP ' + r.status}; }
  if (!r.ok) throw new Error(j.error || ('HTTP ' + r.status));
  return j;
}

function arena() {
  let battle = null, source = null;
  const voteButtons = ['vote-a', 'vote-b', 'vote-tie', 'vote-bad'].map($);
  const setVoting = (on) => voteButtons.forEach((b) => { b.disabled = !on; });
  const status = (t) => { $('status').textContent = t; };
  const reset = () => {
    battle = null;
    if (source) source.close();
    $('answer-a').textContent = '';
    $('answer-b').textContent = '';
    $('name-a').textContent = 'Model A';
    $('name-b').textContent = 'Model B';
    document.body.classList.remove('revealed', 'streaming', 'answered');
    $('again').hidden = true;
    setVoting(false);
  };
  $('ask-form').addEventListener('submit', async (ev) => {
    ev.preventDefault();
    const prompt = $('prompt').value;
    reset();
    $('ask').disabled = true;
    status('Asking two anonymous models…');
    try {
      battle = (await postJson('/api/battle', {prompt})).battle;
    } catch (e) {
      status('Not sent: ' + e.message);
      $('ask').disabled = false;
      return;
    }
    document.body.classList.add('streaming');
    const done = {a: false, b: false};
    source = new EventSource('/api/battle/' + battle + '/stream');
    source.onmessage = (m) => {
      const e = JSON.parse(m.data);
      $('answer-' + e.side).textContent = e.text;
      if (e.done) done[e.side] = true;
      if (done.a && done.b) {
        source.close();
        document.body.classList.remove('streaming');
        document.body.classList.add('answered');
        status('Both answered. Which is better?');
        setVoting(true);
      }
    };
    source.addEventListener('end', () => source.close());
    source.onerror = () => {
      if (!(done.a && done.b)) status('The stream broke off; try again.');
      source.close();
      $('ask').disabled = false;
    };
  });
  voteButtons.forEach((b) => b.addEventListener('click', async () => {
    if (battle === null) return;
    setVoting(false);
    try {
      const r = await postJson('/api/vote', {battle, winner: b.dataset.winner});
      $('name-a').textContent = 'A: ' + r.model_a;
      $('name-b').textContent = 'B: ' + r.model_b;
      document.body.classList.add('revealed');
      status('Vote saved (' + r.winner + ').');
      $('again').hidden = false;
      $('ask').disabled = false;
    } catch (e) {
      status('Vote not saved: ' + e.message);
      setVoting(true);
    }
  }));
  $('again').addEventListener('click', () => { reset(); status(''); $('prompt').focus(); });
}

async function leaderboard() {
  const fmt = (x) => (typeof x === 'number' ? x.toFixed(1) : '–');
  const load = async () => {
    const r = await fetch('/api/ratings');
    const j = await r.json();
    const body = document.querySelector('#board tbody');
    body.replaceChildren();
    for (const m of j.models) {
      const tr = document.createElement('tr');
      const ci = m.bt_ci ? '[' + fmt(m.bt_ci[0]) + ', ' + fmt(m.bt_ci[1]) + ']' : '–';
      // Without a finite MLE (a model with only wins or only losses) BT shows nothing yet.
      const finite = j.finite_mle !== false;
      const row = [finite ? (m.rank ?? '–') : '–', m.model, finite ? fmt(m.bt) : '–',
                   finite ? ci : '–', fmt(m.elo), m.n_battles];
      for (const v of row) {
        const td = document.createElement('td');
        td.textContent = String(v);
        tr.appendChild(td);
      }
      body.appendChild(tr);
    }
    $('summary').textContent = j.n_battles + (j.n_battles === 1 ? ' vote' : ' votes') +
        (j.finite_mle === false ? ' (some model has only wins or only losses: ratings are ' +
                                  'not finite yet)' : '');
    $('forest').src = '/api/forest.svg?n=' + j.n_battles;
    document.body.dataset.loaded = String(j.n_battles);
  };
  await load();
  setInterval(load, 5000);  // live: new votes show up without a reload
}

if (document.body.dataset.page === 'arena') arena();
else leaderboard();
)JS";

const char* const kStyleCss = R"CSS(
[hidden] { display: none !important; }
body { font-family: system-ui, sans-serif; margin: 0; background: #f6f7f9; color: #111; }
header { display: flex; align-items: baseline; gap: 2em; padding: 0.6em 1.5em;
         background: #1e293b; color: white; }
header h1 { font-size: 1.3em; margin: 0; }
header a { color: #cbd5e1; }
main { max-width: 1100px; margin: 0 auto; padding: 1em 1.5em; }
.hint { color: #555; }
#ask-form { display: flex; gap: 0.6em; }
#prompt { flex: 1; font: inherit; padding: 0.5em; }
button { font: inherit; padding: 0.45em 1em; cursor: pointer; }
.sides { display: grid; grid-template-columns: 1fr 1fr; gap: 1em; margin-top: 1em; }
.side { background: white; border: 1px solid #ddd; border-radius: 6px; padding: 0.5em 1em; }
.side h2 { font-size: 1em; margin: 0.3em 0; }
.answer { white-space: pre-wrap; word-wrap: break-word; min-height: 8em; font-family: inherit; }
.revealed .side h2 { color: #b45309; }
.votes { display: flex; justify-content: center; gap: 0.8em; margin: 1em 0; }
#status { text-align: center; min-height: 1.4em; }
#again { display: block; margin: 0 auto; }
table { border-collapse: collapse; background: white; width: 100%; }
th, td { border: 1px solid #ddd; padding: 0.35em 0.7em; text-align: left; }
th { background: #e2e8f0; }
#forest { margin-top: 1em; max-width: 100%; background: white; }
)CSS";

}  // namespace erank::arena
