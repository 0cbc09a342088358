/* The firm's application: login, dashboard, analyses, deadlines, invoices,
 * users. Plain DOM, no framework, no external asset. Every value from the
 * server is written with textContent, never as HTML. The session token lives
 * in sessionStorage: closing the tab ends the session on this device. */
'use strict';

const STRINGS = {
  fr: {
    plan: 'Formule', logout: 'Se déconnecter', login_title: 'Connexion à votre espace',
    username: 'Identifiant', password: 'Mot de passe', sign_in: 'Se connecter',
    tab_dashboard: 'Tableau de bord', tab_analyses: 'Analyses', tab_deadlines: 'Délais',
    tab_invoices: 'Factures', tab_users: 'Utilisateurs',
    usage_analyses: 'Analyses ce mois-ci', usage_users: 'Utilisateurs actifs', usage_due: 'Montant dû ce mois',
    urgent_deadlines: 'Délais les plus urgents', recent_analyses: 'Analyses récentes',
    new_analysis: 'Nouvelle analyse', case_text: 'Exposé du dossier',
    analysis_hint: 'Évaluation par règles explicites et documentées : chaque facteur retenu est listé.',
    analyse: 'Analyser', analyses: 'Analyses', date: 'Date', success_rate: 'Taux de succès',
    urgency: 'Urgence', factors: 'Facteurs', new_deadline: 'Nouveau délai', procedure: 'Procédure',
    notification_date: 'Date de notification', description: 'Description', compute: 'Calculer',
    deadlines: 'Délais', deadline: 'Échéance', new_invoice: 'Nouvelle facture', client_name: 'Client',
    item_description: 'Désignation', quantity: 'Qté', unit_price: 'Prix unitaire HT (€)',
    add_item: 'Ajouter une ligne', create_invoice: 'Créer la facture', invoices: 'Factures',
    numero: 'Numéro', total_ht: 'Total HT', total_ttc: 'Total TTC', status: 'Statut', print: 'Imprimer',
    close: 'Fermer', new_user: 'Nouvel utilisateur', role: 'Rôle', role_admin: 'Administrateur',
    role_lawyer: 'Avocat', role_assistant: 'Assistant', create: 'Créer', users: 'Utilisateurs',
    last_login: 'Dernière connexion', done: 'Traité', mark_done: 'Marquer traité', none: 'Aucun élément',
    overage: 'dont dépassement', bad_login: 'Identifiant ou mot de passe incorrect.',
    too_many: 'Trop de tentatives. Réessayez dans {s} s.', network: 'Le serveur ne répond pas.',
    storage_full: "L'espace de stockage de votre offre est plein : l'enregistrement a été refusé. Supprimez des données ou passez à l'offre supérieure.",
    remove: 'Retirer', favorable: 'favorable', unfavorable: 'défavorable', model: 'Modèle',
    urgency_critical: 'critique', urgency_high: 'haute', urgency_normal: 'normale', urgency_low: 'basse',
    status_draft: 'brouillon', status_sent: 'envoyée', status_paid: 'payée', status_cancelled: 'annulée',
    status_active: 'en cours', status_done: 'traité', never: 'jamais',
    notification_time: 'Heure de notification', time_hint: 'obligatoire pour un délai en heures',
    at: 'à', until_midnight: 'jusqu’à minuit', rule_used: 'Règle appliquée',
    unit_hours: 'heures', unit_days: 'jours', unit_months: 'mois',
    franc: 'délai franc : ni le jour de la notification ni le dernier jour ne comptent',
    not_franc: 'délai non franc',
    hour_to_hour: 'compté d’heure à heure à partir de l’heure de notification, jamais prorogé',
    extends: 'prorogé au premier jour ouvrable si le dernier jour est un samedi, un dimanche ou un jour férié',
    no_extension: 'non prorogé : un samedi, un dimanche ou un jour férié reste le dernier jour',
    extended: 'prorogé au premier jour ouvrable',
    to_confirm: 'à confirmer',
    to_confirm_hint: 'Règle non confirmée par les textes consultés : vérifiez-la avant de vous y fier.',
    checked_on: 'vérifiée le {d}', in_force: 'en vigueur du {from} au {until}', in_force_since: 'en vigueur depuis le {from}',
    previous_regime: 'Notification sous un régime antérieur : la règle appliquée était en vigueur du {from} au {until}.',
    previous_regime_short: 'régime antérieur', source: 'Source',
    types_for: 'Procédures en vigueur pour une notification le {d}',
    urgency_overdue: 'dépassé', overdue: 'délai dépassé', factor_helps: 'favorable au dossier',
    factor_hurts: 'défavorable au dossier', factor_neutral: 'signal d’urgence (sans effet sur le taux)',
    weight: 'poids', base_score: 'Point de départ', raw_score: 'Total avant bornes', reference: 'Référence',
    download_pdf: 'Télécharger (PDF)', tz_paris: 'heure de Paris', tz_other: 'heure locale ({tz})',
    matched: 'relevé',
    code: 'Code à usage unique', code_hint: 'Code de votre application d’authentification ou code de secours',
    bad_code: 'Code incorrect ou déjà utilisé.', tab_security: 'Sécurité',
    totp_title: 'Double authentification', totp_on: 'Activée', totp_off: 'Désactivée',
    totp_enable: 'Activer', totp_disable: 'Désactiver', totp_confirm: 'Confirmer',
    totp_scan: 'Ajoutez ce compte à votre application d’authentification (adresse otpauth ou clé), puis saisissez le premier code.',
    totp_secret: 'Clé', totp_codes: 'Codes de secours (affichés une seule fois, chacun utilisable une fois) :',
    totp_left: 'Codes de secours restants : {n}', totp_must: 'Votre cabinet exige la double authentification : activez-la pour continuer.',
    totp_require: 'Exiger la double authentification pour tous les utilisateurs',
    ical_title: 'Agenda des délais (iCal)', ical_hint: 'Abonnez votre agenda à cette adresse secrète ; elle ne s’affiche qu’une fois.',
    ical_create: 'Créer ou renouveler l’adresse', ical_revoke: 'Révoquer l’adresse',
    export_json: 'Export JSON', export_html: 'Export lisible', erase: 'Effacer',
    erase_basis: 'Base de l’effacement (ex. demande du client, art. 17 RGPD) :',
    responsible: 'Responsable', fallback: 'Suppléant', people: 'Responsable : {r} · suppléant : {f}',
    reminders_title: 'Rappels d’échéance par e-mail', reminders_mode: 'Mes rappels',
    reminders_mode_firm: 'Délais du cabinet', reminders_mode_custom: 'Mes propres délais',
    reminders_mode_off: 'Aucun rappel', reminders_leads: 'Délais', save: 'Enregistrer',
    reminders_hint: 'Ex. 7d, 48h, morning (8 h le jour même) ; heure du cabinet.',
    reminders_state: 'Rappels envoyés : {list} (fuseau {tz})', reminders_off: 'Vous ne recevez aucun rappel par e-mail.',
    reminders_firm_title: 'Délais de rappel du cabinet',
    reminders_enforce: 'Imposer ces délais à tous (chacun peut en ajouter, pas les retirer)'
  },
  en: {
    plan: 'Plan', logout: 'Sign out', login_title: 'Sign in to your workspace',
    username: 'Username', password: 'Password', sign_in: 'Sign in',
    tab_dashboard: 'Dashboard', tab_analyses: 'Analyses', tab_deadlines: 'Deadlines',
    tab_invoices: 'Invoices', tab_users: 'Users',
    usage_analyses: 'Analyses this month', usage_users: 'Active users', usage_due: 'Amount due this month',
    urgent_deadlines: 'Most urgent deadlines', recent_analyses: 'Recent analyses',
    new_analysis: 'New analysis', case_text: 'Case summary',
    analysis_hint: 'Assessment by explicit, documented rules: every factor taken into account is listed.',
    analyse: 'Analyse', analyses: 'Analyses', date: 'Date', success_rate: 'Success rate',
    urgency: 'Urgency', factors: 'Factors', new_deadline: 'New deadline', procedure: 'Procedure',
    notification_date: 'Notification date', description: 'Description', compute: 'Compute',
    deadlines: 'Deadlines', deadline: 'Due', new_invoice: 'New invoice', client_name: 'Client',
    item_description: 'Description', quantity: 'Qty', unit_price: 'Unit price excl. VAT (€)',
    add_item: 'Add a line', create_invoice: 'Create invoice', invoices: 'Invoices',
    numero: 'Number', total_ht: 'Total excl. VAT', total_ttc: 'Total incl. VAT', status: 'Status',
    print: 'Print', close: 'Close', new_user: 'New user', role: 'Role', role_admin: 'Admin',
    role_lawyer: 'Lawyer', role_assistant: 'Assistant', create: 'Create', users: 'Users',
    last_login: 'Last login', done: 'Done', mark_done: 'Mark done', none: 'Nothing yet',
    overage: 'of which overage', bad_login: 'Wrong username or password.',
    too_many: 'Too many attempts. Retry in {s} s.', network: 'The server does not answer.',
    storage_full: 'Your plan\'s storage is full: nothing was saved. Delete data or upgrade your plan.',
    remove: 'Remove', favorable: 'favourable', unfavorable: 'unfavourable', model: 'Model',
    urgency_critical: 'critical', urgency_high: 'high', urgency_normal: 'normal', urgency_low: 'low',
    status_draft: 'draft', status_sent: 'sent', status_paid: 'paid', status_cancelled: 'cancelled',
    status_active: 'active', status_done: 'done', never: 'never',
    notification_time: 'Notification time', time_hint: 'required for a delay in hours',
    at: 'at', until_midnight: 'until midnight', rule_used: 'Rule applied',
    unit_hours: 'hours', unit_days: 'days', unit_months: 'months',
    franc: 'délai franc: neither the notification day nor the last day counts',
    not_franc: 'not a délai franc',
    hour_to_hour: 'counted hour to hour from the time of notification, never extended',
    extends: 'moved to the next working day when the last day is a Saturday, Sunday or public holiday',
    no_extension: 'not extended: a Saturday, Sunday or public holiday stays the last day',
    extended: 'moved to the next working day',
    to_confirm: 'à confirmer (to be confirmed)',
    to_confirm_hint: 'This rule could not be confirmed against the texts read: check it before relying on it.',
    checked_on: 'checked on {d}', in_force: 'in force from {from} to {until}', in_force_since: 'in force since {from}',
    previous_regime: 'Notified under a previous regime: the rule applied was in force from {from} to {until}.',
    previous_regime_short: 'previous regime', source: 'Source',
    types_for: 'Procedures in force for a notification on {d}',
    urgency_overdue: 'overdue', overdue: 'deadline passed', factor_helps: 'helps the case',
    factor_hurts: 'hurts the case', factor_neutral: 'urgency signal (no effect on the rate)',
    weight: 'weight', base_score: 'Starting point', raw_score: 'Total before bounds', reference: 'Reference',
    download_pdf: 'Download (PDF)', tz_paris: 'Paris time', tz_other: 'local time ({tz})',
    matched: 'found',
    code: 'One-time code', code_hint: 'Code from your authenticator app, or a recovery code',
    bad_code: 'Wrong or already used code.', tab_security: 'Security',
    totp_title: 'Two-factor authentication', totp_on: 'On', totp_off: 'Off',
    totp_enable: 'Turn on', totp_disable: 'Turn off', totp_confirm: 'Confirm',
    totp_scan: 'Add this account to your authenticator app (otpauth address or key), then enter the first code.',
    totp_secret: 'Key', totp_codes: 'Recovery codes (shown once, each works once):',
    totp_left: 'Recovery codes left: {n}', totp_must: 'Your firm requires two-factor authentication: turn it on to continue.',
    totp_require: 'Require two-factor authentication for every user',
    ical_title: 'Deadline calendar (iCal)', ical_hint: 'Subscribe your calendar to this secret address; it is shown only once.',
    ical_create: 'Create or renew the address', ical_revoke: 'Revoke the address',
    export_json: 'JSON export', export_html: 'Readable export', erase: 'Erase',
    erase_basis: 'Basis of the erasure (e.g. the client\'s request, GDPR art. 17):',
    responsible: 'Responsible', fallback: 'Fallback', people: 'Responsible: {r} · fallback: {f}',
    reminders_title: 'Deadline reminders by e-mail', reminders_mode: 'My reminders',
    reminders_mode_firm: 'The firm\'s lead times', reminders_mode_custom: 'My own lead times',
    reminders_mode_off: 'No reminders', reminders_leads: 'Lead times', save: 'Save',
    reminders_hint: 'e.g. 7d, 48h, morning (8:00 on the day); the firm\'s time zone.',
    reminders_state: 'Reminders sent: {list} ({tz} time)', reminders_off: 'You receive no reminder e-mails.',
    reminders_firm_title: 'The firm\'s reminder lead times',
    reminders_enforce: 'Require these for everyone (each may add, not remove)'
  },
};
const LANG = STRINGS[document.documentElement.lang] ? document.documentElement.lang : 'fr';
const T = (k) => STRINGS[LANG][k] || STRINGS.fr[k] || k;
const $ = (id) => document.getElementById(id);

let token = sessionStorage.getItem('token');
let me = null;

/* ---- helpers ------------------------------------------------------------ */

function el(tag, attrs, ...children) {
  const e = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs || {})) {
    if (k === 'class') e.className = v;
    else if (k.startsWith('on')) e.addEventListener(k.slice(2), v);
    else e.setAttribute(k, v);
  }
  for (const c of children) e.append(c instanceof Node ? c : String(c ?? ''));
  return e;
}

function money(cents) {
  const v = Number(cents || 0) / 100;
  return v.toLocaleString(LANG === 'en' ? 'en-GB' : 'fr-FR', { style: 'currency', currency: 'EUR' });
}
function euros(v) {
  return Number(v || 0).toLocaleString(LANG === 'en' ? 'en-GB' : 'fr-FR', { style: 'currency', currency: 'EUR' });
}
function day(s) {
  if (!s) return '';
  const d = new Date(s.length === 10 ? s + 'T00:00:00' : s);
  return isNaN(d) ? s : d.toLocaleDateString(LANG === 'en' ? 'en-GB' : 'fr-FR');
}
function badge(kind, prefix) {
  const k = String(kind || '');
  const b = el('span', { class: 'badge ' + k.replace(/[^a-z_-]/gi, '') }, T(prefix + k) !== prefix + k ? T(prefix + k) : k);
  if (k === 'overdue') b.title = T('overdue');
  return b;
}
/* A list answer may be a bare array or an object holding one. */
function rows(r, ...keys) {
  if (Array.isArray(r)) return r;
  for (const k of [...keys, 'items', 'results', 'data']) if (r && Array.isArray(r[k])) return r[k];
  return [];
}
function emptyRow(tbody, cols) {
  tbody.append(el('tr', {}, el('td', { class: 'empty', colspan: String(cols) }, T('none'))));
}
function showError(msg) { $('app-error').textContent = msg || ''; }

class ApiError extends Error {
  constructor(status, body) {
    super((body && (body.detail || body.error)) || ('HTTP ' + status));
    this.status = status; this.body = body;
  }
}

async function api(method, path, body) {
  const headers = {};
  if (token) headers.Authorization = 'Bearer ' + token;
  if (body !== undefined) headers['Content-Type'] = 'application/json';
  let r;
  try {
    r = await fetch(path, { method, headers, body: body === undefined ? undefined : JSON.stringify(body) });
  } catch (e) {
    throw new ApiError(0, { detail: T('network') });
  }
  const text = await r.text();
  let data = null;
  if (text && (r.headers.get('content-type') || '').includes('json')) {
    try { data = JSON.parse(text); } catch (e) { data = null; }
  } else {
    data = text;
  }
  if (r.status === 401 && path !== '/api/auth/login') { signedOut(); }
  if (r.status === 507) throw new ApiError(507, { error: 'plan_limit', detail: T('storage_full') });
  if (!r.ok) throw new ApiError(r.status, data);
  return data;
}

/* Run an action, showing its error in the banner instead of throwing. */
async function guarded(fn, button) {
  showError('');
  if (button) button.disabled = true;
  try { await fn(); } catch (e) { showError(e.message); } finally { if (button) button.disabled = false; }
}

/* ---- session ----------------------------------------------------------------- */

function signedOut() {
  token = null; me = null;
  sessionStorage.removeItem('token');
  $('app-view').hidden = true;
  $('session').hidden = true;
  $('login-view').hidden = false;
  $('username').focus();
}

async function signedIn(mustEnrol) {
  me = await api('GET', '/api/me');
  $('who').textContent = me.username + ' · ' + T('role_' + me.role);
  $('session').hidden = false;
  $('login-view').hidden = true;
  $('app-view').hidden = false;
  for (const e of document.querySelectorAll('.admin-only')) e.hidden = me.role !== 'admin';
  /* Assistants manage deadlines and read invoices; analyses and new invoices
   * are the lawyers' (docs/worker-api.md "Roles"). The server enforces it. */
  for (const e of document.querySelectorAll('.lawyer-only')) e.hidden = me.role === 'assistant';
  if (mustEnrol) { showTab('security'); showError(T('totp_must')); return; }
  await loadDeadlineTypes().catch((e) => showError(e.message));
  showTab('dashboard');
}

$('login-form').addEventListener('submit', async (ev) => {
  ev.preventDefault();
  const f = ev.target, out = $('login-error'), btn = $('login-submit');
  out.textContent = '';
  btn.disabled = true;
  try {
    const body = { username: f.username.value, password: f.password.value };
    if (f.code.value.trim()) body.code = f.code.value.trim();
    const r = await api('POST', '/api/auth/login', body);
    token = r.token;
    sessionStorage.setItem('token', token);
    f.password.value = '';
    f.code.value = '';
    $('login-code').hidden = true;
    await signedIn(r.totp_enrolment_required);
  } catch (e) {
    const err = e.body && e.body.error;
    /* The second factor: ask for the code, then keep asking on a wrong one. */
    if (err === 'totp_required' || err === 'invalid_code') {
      $('login-code').hidden = false;
      f.code.focus();
      if (err === 'invalid_code') out.textContent = T('bad_code');
    } else if (e.status === 401) out.textContent = T('bad_login');
    else if (e.status === 429) out.textContent = T('too_many').replace('{s}', (e.body && e.body.retry_after) || 60);
    else out.textContent = e.message;
  } finally {
    btn.disabled = false;
  }
});

$('logout').addEventListener('click', async () => {
  try { await api('POST', '/api/auth/logout'); } catch (e) { /* the session ends here anyway */ }
  signedOut();
});

/* ---- tabs -------------------------------------------------------------------- */

const loaders = {
  dashboard: loadDashboard, analyses: loadAnalyses, deadlines: loadDeadlines,
  invoices: loadInvoices, users: loadUsers, security: loadSecurity,
};
function showTab(name) {
  for (const b of document.querySelectorAll('#tabs button')) b.classList.toggle('active', b.dataset.tab === name);
  for (const s of document.querySelectorAll('.tab')) s.hidden = s.id !== 'tab-' + name;
  showError('');
  guarded(loaders[name]);
}
for (const b of document.querySelectorAll('#tabs button')) b.addEventListener('click', () => showTab(b.dataset.tab));

/* ---- dashboard --------------------------------------------------------------- */

function meter(valueId, barId, used, limit) {
  $(valueId).textContent = limit ? `${used} / ${limit}` : String(used);
  const pct = limit ? Math.min(100, Math.round((100 * used) / limit)) : 0;
  $(barId).style.width = pct + '%';
  $(barId).classList.toggle('full', pct >= 100);
}

async function loadDashboard() {
  const u = await api('GET', '/api/billing/usage');
  meter('u-analyses', 'u-analyses-bar', u.analyses_used, u.analyses_limit);
  meter('u-users', 'u-users-bar', u.users_active, u.users_limit);
  $('u-due').textContent = euros(u.total_due);
  $('u-overage').textContent = Number(u.overage_fees) > 0 ? `${T('overage')} ${euros(u.overage_fees)}` : u.month || '';

  const dl = sortDeadlines(rows(await api('GET', '/api/deadlines?status=active'), 'deadlines')).slice(0, 5);
  const ul = $('dash-deadlines');
  ul.replaceChildren(...(dl.length ? dl.map((d) => el('li', {},
    el('span', {}, el('strong', {}, deadlineText(d)), ' · ', d.label || d.type, d.description ? ' — ' + d.description : '',
      d.rule && !d.confirmed ? ' · ' + T('to_confirm') : '', d.previous_regime ? ' · ' + T('previous_regime_short') : ''),
    badge(d.urgency, 'urgency_'))) : [el('li', { class: 'empty' }, T('none'))]));

  if (me && me.role === 'assistant') return;
  const an = rows(await api('GET', '/api/analyses?limit=5'), 'analyses').slice(0, 5);
  $('dash-analyses').replaceChildren(...(an.length ? an.map((a) => el('li', {},
    el('span', {}, `#${a.id} · ${day(a.created_at)}`),
    el('span', {}, pct(a.success_rate), ' ', badge(a.urgency, 'urgency_')))) : [el('li', { class: 'empty' }, T('none'))]));
}

/* ---- analyses ---------------------------------------------------------------- */

function pct(rate) {
  const v = Number(rate);
  return isNaN(v) ? '' : Math.round(v <= 1 ? v * 100 : v) + ' %';
}
function factorText(f) {
  if (typeof f === 'string') return f;
  const w = Number(f.weight);
  const sign = w > 0 ? '+' : w < 0 ? '−' : '';
  const label = f.label || f.description || f.name || f.id || JSON.stringify(f);
  return sign ? `${sign} ${label} (${weightText(w)})` : label;
}
/* "+0,15" / "−0,15" / "0": the rule's weight, signed, in the page's language. */
function weightText(w) {
  const v = Number(w);
  if (!v) return '0';
  const abs = Math.abs(v).toLocaleString(LANG === 'en' ? 'en-GB' : 'fr-FR', { minimumFractionDigits: 2, maximumFractionDigits: 4 });
  return (v > 0 ? '+' : '−') + abs;
}
/* One factor: + (helps) or − (hurts) or ! (urgency only), label, weight, legal reference. */
function factorItem(f) {
  if (typeof f === 'string') return el('li', {}, f);
  const w = Number(f.weight);
  const kind = w > 0 ? 'plus' : w < 0 ? 'minus' : 'neutral';
  const mark = w > 0 ? '+' : w < 0 ? '−' : '!';
  const title = T(w > 0 ? 'factor_helps' : w < 0 ? 'factor_hurts' : 'factor_neutral');
  return el('li', { class: 'factor ' + kind, 'data-code': f.code || '', 'data-weight': String(w) },
    el('span', { class: 'sign', title, 'aria-label': title }, mark),
    el('span', { class: 'factor-label' }, f.label || f.code || ''),
    el('span', { class: 'weight', title: T('weight') }, weightText(w)),
    f.reference ? el('span', { class: 'ref' }, f.reference) : '',
    f.matched ? el('span', { class: 'hint' }, ' · ' + T('matched') + ' : « ' + f.matched + ' »') : '');
}

async function loadAnalyses() {
  const list = rows(await api('GET', '/api/analyses?limit=50'), 'analyses');
  const tb = $('analyses-list');
  tb.replaceChildren();
  if (!list.length) emptyRow(tb, 6);
  for (const a of list) {
    tb.append(el('tr', { 'data-id': String(a.id) },
      el('td', {}, a.id), el('td', {}, day(a.created_at)), el('td', {}, pct(a.success_rate)),
      el('td', {}, badge(a.urgency, 'urgency_')),
      el('td', {}, (a.factors || []).map(factorText).join(' · ') || String(a.positive_factors ?? '')),
      el('td', { class: 'actions' },
        el('button', { type: 'button', class: 'ghost', onclick: () => guarded(() => exportCase(a.id, 'json')) }, T('export_json')),
        el('button', { type: 'button', class: 'ghost', onclick: () => guarded(() => exportCase(a.id, 'html')) }, T('export_html')),
        me && me.role === 'admin'
          ? el('button', { type: 'button', class: 'ghost', onclick: () => guarded(() => eraseCase(a.id)) }, T('erase')) : '')));
  }
}

$('analysis-form').addEventListener('submit', (ev) => {
  ev.preventDefault();
  const f = ev.target;
  guarded(async () => {
    const a = await api('POST', '/api/analyses', { case_text: f.case_text.value });
    const box = $('analysis-result');
    box.replaceChildren(
      el('div', { class: 'rate' }, pct(a.success_rate), ' ', badge(a.urgency, 'urgency_')),
      el('div', { class: 'hint' }, `${T('model')} : ${a.model || ''}`),
      a.base_score != null ? el('div', { class: 'hint' }, `${T('base_score')} : ${pct(a.base_score)}`
        + (a.raw_score != null ? ` · ${T('raw_score')} : ${pct(a.raw_score)}` : '')) : '',
      el('ul', { class: 'factors' }, ...(a.factors || []).map(factorItem)));
    box.hidden = false;
    f.reset();
    await loadAnalyses();
  }, f.querySelector('button[type=submit]'));
});

/* ---- deadlines --------------------------------------------------------------- */

let deadlineTypes = [];
const fill = (k, vars) => T(k).replace(/\{(\w+)\}/g, (m, v) => (vars && vars[v] != null ? vars[v] : m));

/* The types in force for the notification date in the form (the set of
 * types is dated: the 2024 reform replaced the OQTF types). */
async function loadDeadlineTypes() {
  const date = $('deadline-date').value;
  const q = /^\d{4}-\d{2}-\d{2}$/.test(date) ? '?date=' + encodeURIComponent(date) : '';
  deadlineTypes = rows(await api('GET', '/api/deadlines/types' + q), 'types');
  const sel = $('deadline-type');
  const before = sel.value;
  sel.replaceChildren(...deadlineTypes.map((t) => el('option', { value: t.type }, t.label || t.type)));
  if (deadlineTypes.some((t) => t.type === before)) sel.value = before;
  $('deadline-types-for').textContent = date ? fill('types_for', { d: day(date) }) : '';
  showRule();
}

/* What the lawyer must know of a rule: duration, franc or not, extension,
 * reference, period, and whether it is confirmed. */
function ruleFacts(r) {
  const facts = [`${r.duration} ${T('unit_' + r.unit)}`];
  if (r.unit === 'hours') facts.push(T('hour_to_hour'));
  else {
    facts.push(T(r.franc ? 'franc' : 'not_franc'));
    facts.push(T(r.extends_to_working_day ? 'extends' : 'no_extension'));
  }
  const box = el('div', { class: 'rule' },
    el('p', {}, el('strong', {}, r.reference || ''), ' — ', facts.join(' ; ')),
    el('p', { class: 'hint' }, r.valid_until ? fill('in_force', { from: day(r.valid_from), until: day(r.valid_until) })
      : fill('in_force_since', { from: day(r.valid_from) }),
    r.checked ? ' · ' + fill('checked_on', { d: day(r.checked) }) : ''));
  if (!r.confirmed) {
    box.append(el('p', { class: 'unconfirmed' }, el('span', { class: 'badge to-confirm' }, T('to_confirm')), ' ',
      T('to_confirm_hint')));
  }
  if (r.note) box.append(el('p', { class: 'hint' }, r.note));
  if (r.source) box.append(el('p', { class: 'hint' }, T('source') + ' : ' + r.source));
  return box;
}

function showRule() {
  const t = deadlineTypes.find((x) => x.type === $('deadline-type').value);
  const time = $('deadline-time');
  time.required = !!(t && t.needs_time);
  $('deadline-rule').replaceChildren(...(t ? [ruleFacts(t)] : []));
}

/* The firm's time zone (TIMEZONE), said next to every hour shown. */
const TZ = document.body.dataset.tz || 'Europe/Paris';
function tzText() {
  return TZ === 'Europe/Paris' ? T('tz_paris') : fill('tz_other', { tz: TZ });
}
/* "04/12/2026" or "29/11/2026 à 16:00 (heure de Paris)": the hour where it
 * counts — a rule in hours, or any deadline_at that is not the end of a day
 * (deadline_at is the firm's local date-time, docs/worker-api.md). */
function deadlineText(d) {
  const at = String(d.deadline_at || '');
  const hm = at.length >= 16 ? at.slice(11, 16) : '';
  const hours = (d.rule && d.rule.unit === 'hours') || (hm && hm !== '23:59');
  const date = d.deadline_date || at.slice(0, 10);
  if (hours && hm) return `${day(date)} ${T('at')} ${hm} (${tzText()})`;
  return day(date);
}

function regimeNote(d) {
  if (!d.previous_regime || !d.rule) return null;
  return el('p', { class: 'regime' }, fill('previous_regime', { from: day(d.rule.valid_from), until: day(d.rule.valid_until) }));
}

function showResult(d) {
  const box = $('deadline-result');
  const r = d.rule || {};
  const lines = [
    el('p', { class: 'deadline-big' }, el('strong', {}, deadlineText(d)),
      r.unit && r.unit !== 'hours' ? ' (' + T('until_midnight') + ')' : '',
      d.extended ? ' — ' + T('extended') : ''),
    el('p', {}, T('rule_used') + ' : ' + (r.label || d.type)),
  ];
  const note = regimeNote(d);
  if (note) lines.push(note);
  if (d.rule) lines.push(ruleFacts(d.rule));
  box.replaceChildren(...lines);
  box.hidden = false;
}

const URGENCY_ORDER = { overdue: 0, expired: 0, critical: 1, high: 2, urgent: 2, normal: 3, medium: 3, low: 4 };
function sortDeadlines(list) {
  return list.slice().sort((a, b) =>
    String(a.deadline_date).localeCompare(String(b.deadline_date)) ||
    String(a.deadline_at || '').localeCompare(String(b.deadline_at || '')) ||
    (URGENCY_ORDER[a.urgency] ?? 5) - (URGENCY_ORDER[b.urgency] ?? 5));
}

/* An admin chooses a deadline's responsible lawyer and fallback among the
 * firm's users (only admins may list them). */
async function loadPeople() {
  if (!me || me.role !== 'admin') return;
  const users = rows(await api('GET', '/api/users'), 'users').filter((u) => u.active !== false);
  for (const [id, blank] of [['deadline-responsible', me.username], ['deadline-fallback', '—']]) {
    const sel = $(id);
    const keep = sel.value;
    sel.replaceChildren(el('option', { value: '' }, blank),
      ...users.map((u) => el('option', { value: String(u.id) }, u.username)));
    sel.value = keep;
  }
}

async function loadDeadlines() {
  if (!deadlineTypes.length) await loadDeadlineTypes();
  await loadPeople().catch((e) => showError(e.message));
  const list = sortDeadlines(rows(await api('GET', '/api/deadlines'), 'deadlines'));
  const tb = $('deadlines-list');
  tb.replaceChildren();
  if (!list.length) emptyRow(tb, 5);
  for (const d of list) {
    const r = d.rule || {};
    const proc = el('td', {}, d.label || r.label || d.type,
      el('div', { class: 'hint' }, d.rule_reference || '',
        r.unit ? ' · ' + (r.unit === 'hours' ? T('hour_to_hour') : T(r.franc ? 'franc' : 'not_franc')) : ''));
    if (d.rule && !d.confirmed) proc.append(' ', el('span', { class: 'badge to-confirm', title: T('to_confirm_hint') }, T('to_confirm')));
    if (d.previous_regime) proc.append(' ', el('span', { class: 'badge regime', title: regimeNote(d)?.textContent || '' }, T('previous_regime_short')));
    const action = d.status === 'done' ? badge('done', 'status_')
      : el('button', { class: 'small ghost', type: 'button', onclick: () => guarded(async () => {
        await api('PATCH', '/api/deadlines/' + encodeURIComponent(d.id), { status: 'done' });
        await loadDeadlines();
      }) }, T('mark_done'));
    tb.append(el('tr', {}, el('td', {}, el('strong', {}, deadlineText(d))),
      el('td', {}, badge(d.urgency, 'urgency_')), proc,
      el('td', {}, d.description || '', el('div', { class: 'hint' },
        fill('people', { r: d.responsible || '—', f: d.fallback || '—' }))),
      el('td', { class: 'num' }, action)));
  }
}

$('deadline-date').addEventListener('change', () => guarded(loadDeadlineTypes));
$('deadline-type').addEventListener('change', showRule);
$('deadline-form').addEventListener('submit', (ev) => {
  ev.preventDefault();
  const f = ev.target;
  guarded(async () => {
    const body = { type: f.type.value, notification_date: f.notification_date.value, description: f.description.value };
    if (f.notification_time.value) body.notification_time = f.notification_time.value;
    if (me && me.role === 'admin') {
      if (f.responsible.value) body.responsible_user_id = Number(f.responsible.value);
      if (f.fallback.value) body.fallback_user_id = Number(f.fallback.value);
    }
    const d = await api('POST', '/api/deadlines', body);
    showResult(d);
    f.description.value = '';
    await loadDeadlines();
  }, f.querySelector('button[type=submit]'));
});

/* ---- invoices ---------------------------------------------------------------- */

function addItemRow() {
  const tr = el('tr', {},
    el('td', {}, el('input', { name: 'description', required: '', maxlength: '500' })),
    el('td', {}, el('input', { name: 'quantity', type: 'number', min: '1', step: '1', value: '1', required: '' })),
    el('td', {}, el('input', { name: 'unit_price', type: 'number', min: '0', step: '0.01', required: '' })),
    el('td', {}));
  tr.lastChild.append(el('button', { type: 'button', class: 'small ghost', title: T('remove'),
    onclick: () => { if ($('invoice-items').children.length > 1) tr.remove(); } }, '×'));
  $('invoice-items').append(tr);
}
$('add-item').addEventListener('click', addItemRow);
addItemRow();

async function loadInvoices() {
  const list = rows(await api('GET', '/api/invoices?limit=50'), 'invoices');
  const tb = $('invoices-list');
  tb.replaceChildren();
  if (!list.length) emptyRow(tb, 6);
  for (const inv of list) {
    tb.append(el('tr', {}, el('td', {}, el('strong', {}, inv.numero)), el('td', {}, inv.client_name),
      el('td', { class: 'num' }, money(inv.montant_ht_cents)), el('td', { class: 'num' }, money(inv.montant_ttc_cents)),
      el('td', {}, badge(inv.status, 'status_')),
      el('td', { class: 'num' }, el('button', { type: 'button', class: 'small ghost',
        onclick: () => guarded(() => showPrint(inv.numero)) }, T('print')))));
  }
}

$('invoice-form').addEventListener('submit', (ev) => {
  ev.preventDefault();
  const f = ev.target;
  const items = [...$('invoice-items').children].map((tr) => ({
    description: tr.querySelector('[name=description]').value,
    quantity: parseInt(tr.querySelector('[name=quantity]').value, 10),
    unit_price_cents: Math.round(parseFloat(tr.querySelector('[name=unit_price]').value) * 100),
  }));
  guarded(async () => {
    await api('POST', '/api/invoices', { client_name: f.client_name.value, items });
    f.reset();
    $('invoice-items').replaceChildren();
    addItemRow();
    await loadInvoices();
  }, f.querySelector('button[type=submit]'));
});

/* The printable invoice is server-rendered HTML behind the bearer token, so
 * it is fetched and its <article> shown here (styled by app.css: the page's
 * own <style> is dropped, this page's CSP forbids inline styles), then
 * printed with the page. */
async function showPrint(numero) {
  const html = await api('GET', '/api/invoices/' + encodeURIComponent(numero) + '/print');
  const text = String(html).replace(/<style[\s\S]*?<\/style>/gi, '');
  const doc = new DOMParser().parseFromString(text, 'text/html');
  const art = doc.querySelector('article.invoice');
  $('print-body').replaceChildren(art ? document.importNode(art, true) : el('p', {}, numero));
  printNumero = numero;
  $('print-view').hidden = false;
  $('print-view').scrollIntoView({ behavior: 'smooth' });
}
$('print-now').addEventListener('click', () => window.print());
/* The PDF is behind the bearer token too: fetched, then saved from a blob URL. */
let printNumero = null;
$('print-pdf').addEventListener('click', () => guarded(async () => {
  const r = await fetch('/api/invoices/' + encodeURIComponent(printNumero) + '/pdf',
    { headers: { Authorization: 'Bearer ' + token } });
  if (!r.ok) throw new ApiError(r.status, null);
  const url = URL.createObjectURL(await r.blob());
  const a = el('a', { href: url, download: 'facture-' + printNumero + '.pdf' });
  document.body.append(a);
  a.click();
  a.remove();
  setTimeout(() => URL.revokeObjectURL(url), 10000);
}, $('print-pdf')));
$('print-close').addEventListener('click', () => { $('print-view').hidden = true; });

/* ---- users ------------------------------------------------------------------- */

async function loadUsers() {
  const list = rows(await api('GET', '/api/users'), 'users');
  const tb = $('users-list');
  tb.replaceChildren();
  for (const u of list) {
    tb.append(el('tr', {}, el('td', {}, u.username), el('td', {}, T('role_' + u.role)),
      el('td', {}, u.last_login ? day(u.last_login) : T('never'))));
  }
}

$('user-form').addEventListener('submit', (ev) => {
  ev.preventDefault();
  const f = ev.target;
  guarded(async () => {
    await api('POST', '/api/users', { username: f.username.value, password: f.password.value, role: f.role.value });
    f.reset();
    await loadUsers();
  }, f.querySelector('button[type=submit]'));
});

/* ---- client files: export, erasure (docs/worker-api.md "Client files and GDPR") */

/* The export needs the session's header: fetch it, then show it from memory. */
async function exportCase(id, format) {
  const data = await api('GET', `/api/cases/${Number(id)}/export?format=${format}`);
  const blob = format === 'html'
    ? new Blob([data], { type: 'text/html' })
    : new Blob([JSON.stringify(data, null, 2)], { type: 'application/json' });
  const url = URL.createObjectURL(blob);
  const a = el('a', { href: url, download: `dossier-${Number(id)}.${format}` });
  document.body.append(a);
  a.click();
  a.remove();
  setTimeout(() => URL.revokeObjectURL(url), 60000);
}

async function eraseCase(id) {
  const basis = window.prompt(T('erase_basis'));
  if (!basis) return;
  await api('DELETE', `/api/cases/${Number(id)}`, { basis });
  await loadAnalyses();
}

/* ---- security: second factor, calendar feed, firm settings ---------------- */

async function loadSecurity() {
  const st = await api('GET', '/api/me/totp');
  $('totp-state').textContent = (st.enabled ? T('totp_on') : T('totp_off'))
    + (st.enabled ? ' · ' + fill('totp_left', { n: st.recovery_codes_left }) : '');
  $('totp-enable').hidden = st.enabled;
  $('totp-disable-form').hidden = !st.enabled;
  $('totp-enrol').hidden = true;
  if (me && me.role === 'admin') {
    const fs = await api('GET', '/api/firm/settings');
    $('totp-required').checked = !!fs.totp_required;
    $('firm-reminders-leads').value = (fs.reminder_leads || []).join(', ');
    $('firm-reminders-enforced').checked = !!fs.reminder_leads_enforced;
  }
  await loadReminders();
}

function leadList(text) {
  return String(text || '').split(/[\s,;]+/).filter(Boolean);
}

async function loadReminders() {
  const r = await api('GET', '/api/me/reminders');
  $('reminders-mode').value = r.mode;
  $('reminders-leads').value = (r.leads || r.effective_leads || []).join(', ');
  $('reminders-leads').disabled = r.mode !== 'custom';
  $('reminders-state').textContent = r.effective_leads.length
    ? fill('reminders_state', { list: r.effective_leads.join(', '), tz: r.timezone || '' })
    : T('reminders_off');
}

$('reminders-mode').addEventListener('change', (ev) => {
  $('reminders-leads').disabled = ev.target.value !== 'custom';
});

$('reminders-form').addEventListener('submit', (ev) => {
  ev.preventDefault();
  const f = ev.target;
  guarded(async () => {
    const body = { mode: f.mode.value };
    if (f.mode.value === 'custom') body.leads = leadList(f.leads.value);
    await api('PUT', '/api/me/reminders', body);
    await loadReminders();
  }, f.querySelector('button[type=submit]'));
});

$('firm-reminders-form').addEventListener('submit', (ev) => {
  ev.preventDefault();
  const f = ev.target;
  guarded(async () => {
    await api('PUT', '/api/firm/settings',
      { reminder_leads: leadList(f.leads.value), reminder_leads_enforced: f.enforced.checked });
    await loadSecurity();
  }, f.querySelector('button[type=submit]'));
});

$('totp-enable').addEventListener('click', (ev) => guarded(async () => {
  const r = await api('POST', '/api/me/totp');
  $('totp-uri').textContent = r.otpauth_uri;
  $('totp-secret').textContent = r.secret;
  $('totp-codes').replaceChildren();
  $('totp-enrol').hidden = false;
  $('totp-confirm-form').hidden = false;
}, ev.target));

$('totp-confirm-form').addEventListener('submit', (ev) => {
  ev.preventDefault();
  const f = ev.target;
  guarded(async () => {
    const r = await api('POST', '/api/me/totp/confirm', { code: f.code.value.trim() });
    f.reset();
    f.hidden = true;
    $('totp-codes').replaceChildren(el('p', {}, T('totp_codes')),
      el('ul', { class: 'plain codes' }, ...r.recovery_codes.map((c) => el('li', {}, el('code', {}, c)))));
    $('totp-enable').hidden = true;
    $('totp-disable-form').hidden = false;
  }, f.querySelector('button[type=submit]'));
});

$('totp-disable-form').addEventListener('submit', (ev) => {
  ev.preventDefault();
  const f = ev.target;
  guarded(async () => {
    await api('DELETE', '/api/me/totp', { code: f.code.value.trim() });
    f.reset();
    await loadSecurity();
  }, f.querySelector('button[type=submit]'));
});

$('totp-required').addEventListener('change', (ev) => guarded(async () => {
  await api('PUT', '/api/firm/settings', { totp_required: ev.target.checked });
}));

$('ical-create').addEventListener('click', (ev) => guarded(async () => {
  const r = await api('POST', '/api/me/ical');
  $('ical-url').textContent = r.url || (location.origin + r.path);
}, ev.target));

$('ical-revoke').addEventListener('click', (ev) => guarded(async () => {
  try { await api('DELETE', '/api/me/ical'); } catch (e) { if (e.status !== 404) throw e; }
  $('ical-url').textContent = '';
}, ev.target));

/* ---- start ------------------------------------------------------------------- */

for (const e of document.querySelectorAll('[data-i18n]')) e.textContent = T(e.dataset.i18n);
$('deadline-date').value = new Date().toISOString().slice(0, 10);
if (token) signedIn().catch(signedOut); else signedOut();
