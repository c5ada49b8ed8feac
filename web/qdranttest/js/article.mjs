// The original article's edge-RAG example, unchanged but for the URLs:
// embeddings from edgesearch's POST /embed, stored and searched with the
// official Qdrant JavaScript client against edgesearch's Qdrant-compatible
// API. Usage: node article.mjs EDGESEARCH_URL QDRANT_URL. Exits non-zero,
// saying why, when the pressure document is not the best answer.
import { QdrantClient } from '@qdrant/js-client-rest';

const [base, qdrantURL] = process.argv.slice(2);

async function embed(text) {
  const res = await fetch(`${base}/embed`, {
    method: 'POST',
    headers: { 'Content-Type': 'application/json' },
    body: JSON.stringify({ text }),
  });
  if (!res.ok) throw new Error(`POST /embed: ${res.status} ${await res.text()}`);
  const { embedding } = await res.json();
  return embedding;
}

const records = [
  'Patient reports pressure errors on the infusion pump; fixed by re-seating the tubing.',
  'Annual flu vaccination is scheduled for the ward staff in October.',
  'The MRI room door must stay closed while the magnet is on.',
  'Blood pressure cuffs are calibrated every six months by the biomedical team.',
];

const client = new QdrantClient({ url: qdrantURL });
await client.createCollection('patient_records', { vectors: { size: 384, distance: 'Cosine' } });
let id = 0;
for (const record of records) {
  const embedding = await embed(record);
  await client.upsert('patient_records', { points: [{ id: ++id, vector: embedding, payload: { text: record } }] });
}
const results = await client.search('patient_records', { vector: await embed('How to fix pressure errors?'), limit: 3 });
console.log(JSON.stringify(results.map(r => ({ id: r.id, score: r.score, text: r.payload.text }))));
if (results.length !== 3 || results[0].id !== 1) {
  console.error('the pressure-error record is not the best answer');
  process.exit(1);
}
const { count } = await client.count('patient_records', { exact: true });
if (count !== records.length) {
  console.error(`count ${count}, want ${records.length}`);
  process.exit(1);
}
const filtered = await client.search('patient_records', {
  vector: await embed('pressure'), limit: 3,
  filter: { must_not: [{ key: 'text', match: { text: 'infusion' } }] },
});
if (filtered.some(r => r.id === 1)) {
  console.error('a must_not filter let its point through');
  process.exit(1);
}
console.log('ok');
