// Storefront page for the Tessera search API: text, photo and voice search,
// facet filters, click and add-to-cart events, and the shopper's profile.
// Plain ES2020 module with no dependencies, so the server can send it as is.

const PER_PAGE = 24;
const SEARCH_DEBOUNCE_MS = 200;
const PRICE_DEBOUNCE_MS = 400;
const SHOPPER_DEBOUNCE_MS = 500;
const MAX_RECORDING_MS = 15000;
// 16 kHz mono is the usual input rate of speech recognizers.
// NOTE: the rate the server's recognizer expects is assumed here, not read from the API.
const WAV_SAMPLE_RATE = 16000;
const PROFILE_TOP_VALUES = 6;
const DEFAULT_SHOPPER = 'shopper-1';
const STORAGE_KEYS = { lang: 'tessera.lang', shopper: 'tessera.shopper', showScores: 'tessera.showScores' };
const FILTER_NAMES = ['gender', 'colour', 'category'];
const PROFILE_FACET_ORDER = ['article_type', 'colour', 'gender', 'brand', 'price_band'];

// ---------------------------------------------------------------------------
// UI strings

const MESSAGES = {
  en: {
    'lang.label': 'Language',
    'shopper.label': 'Shopper ID',
    'shopper.hint': 'A pseudonymous ID. Use two IDs to compare how results adapt to each shopper.',
    'health.ok': '{n} products',
    'health.down': 'Server unavailable',
    'search.placeholder': 'Search products, e.g. “blue shirt”',
    'search.photo': 'Photo',
    'search.photoHint': 'Search with a photo (or drop an image on the page)',
    'search.voiceFile': 'WAV file',
    'search.voiceFileHint': 'Search with a voice recording (WAV)',
    'search.record': 'Record',
    'search.stop': 'Stop ({s} s)',
    'search.recordUnavailable': 'Recording needs a browser with microphone access on https or localhost.',
    'search.clear': 'Clear',
    'search.imageQuery': 'Searching by photo: {name}',
    'search.imageWordsQuery': 'Searching by photo: {name}, refined with “{words}”',
    'search.refinePlaceholder': 'Refine the photo search with words, e.g. “red”',
    'search.voiceQuery': 'You said: “{text}” (confidence {confidence})',
    'search.voiceSilent': 'No speech was detected in the recording.',
    'search.converting': 'Converting the audio to WAV…',
    'filters.title': 'Filters',
    'filters.clear': 'Clear',
    'filters.gender': 'Gender',
    'filters.colour': 'Colour',
    'filters.category': 'Category',
    'filters.price': 'Price',
    'filters.priceMin': 'Min',
    'filters.priceMax': 'Max',
    'filters.any': 'All',
    'filters.priceInvalid': 'The minimum price must not be greater than the maximum price.',
    'results.why': 'Why this result',
    'results.summary': '{n} results',
    'results.summaryOne': '1 result',
    'results.took': '{ms} ms',
    'results.personalized': 'personalized',
    'results.loading': 'Searching…',
    'results.none': 'No products match. Try other words or fewer filters.',
    'results.start': 'Type a query, choose a photo, or record your voice to start.',
    'why.score': 'Score',
    'why.base': 'Base score',
    'why.boost': 'Personal boost',
    'why.title': 'Why this result',
    'why.open': 'Why?',
    'why.openLabel': 'Why “{title}” is here',
    'why.ranker': 'Ordered by the {ranker} ranker.',
    'why.contributions': 'What the ranker weighed',
    'why.contributionsHint': "Each feature's contribution to the base score. Bias and contributions add up to the base score.",
    'why.bias': 'Bias',
    'why.featureValue': 'value {value}',
    'why.missingValue': 'no value',
    'why.unused': '{n} other features contributed nothing.',
    'why.unusedOne': '1 other feature contributed nothing.',
    'why.personal': 'Your personal boost',
    'why.facetBoost': '{facet}: {value}',
    'why.session': 'Products viewed in this session (similarity {cosine})',
    'why.noBoost': 'No personal boost: this shopper has no profile yet.',
    'why.missing': 'This result was loaded without an explanation. Search again to see it.',
    'results.boosted': 'For you',
    'pager.label': 'Pages',
    'pager.prev': 'Previous',
    'pager.next': 'Next',
    'pager.status': 'Page {page} of {pages}',
    'detail.close': 'Close',
    'detail.addToCart': 'Add to cart',
    'detail.added': 'Added to cart.',
    'detail.id': 'Product ID',
    'drop.hint': 'Drop a photo to search by image, or a WAV file to search by voice',
    'drop.unsupported': 'Unsupported file type “{type}”. Drop an image or a WAV file.',
    'profile.title': 'Your profile',
    'profile.erase': 'Erase my data',
    'profile.eraseConfirm': 'Erase all events and the profile stored for “{user}”?',
    'profile.erased': 'The data of “{user}” was erased.',
    'profile.events': '{n} events recorded for {user}.',
    'profile.eventsOne': '1 event recorded for {user}.',
    'profile.empty': 'No activity yet for {user}. Open products or add them to the cart to build a profile.',
    'facet.article_type': 'Product type',
    'facet.colour': 'Colour',
    'facet.gender': 'Gender',
    'facet.brand': 'Brand',
    'facet.price_band': 'Price range',
    'facet.category': 'Category',
    'feature.retrieval_score': 'Retrieval score',
    'feature.bm25f': 'Word match, all fields (BM25F)',
    'feature.bm25_title': 'Word match in the title',
    'feature.bm25_brand': 'Word match in the brand',
    'feature.bm25_category': 'Word match in the category',
    'feature.bm25_attributes': 'Word match in colour, gender, usage or season',
    'feature.bm25_description': 'Word match in the description',
    'feature.bm25_photo_text': 'Word match in text on the photo',
    'feature.coverage': 'Share of query words matched',
    'feature.words_dropped': 'Query words dropped',
    'feature.exact_match': 'Every word matched as typed',
    'feature.typo_edits': 'Typo corrections',
    'feature.synonym_words': 'Words matched through a synonym',
    'feature.cosine_photo': 'Similarity to the query photo',
    'feature.cosine_fused': 'Text and photo similarity',
    'feature.cosine_text': 'Text similarity',
    'feature.cosine_joint_photo': "Similarity to the product's photo",
    'feature.cosine_photo_text': 'Similarity to text on the photo',
    'feature.popularity': 'Popularity',
    'feature.click_through': 'Click-through rate',
    'feature.price': 'Price',
    'feature.price_band': 'Price among similar products',
    'feature.age_years': 'Years since release',
    'feature.has_photo': 'Has a photo',
    'feature.consensus_article_type': 'Product type shared with the top results',
    'feature.consensus_sub_category': 'Category shared with the top results',
    'feature.consensus_colour': 'Colour shared with the top results',
    'feature.consensus_gender': 'Gender shared with the top results',
    'feature.consensus_all': 'Type, colour and gender shared with the top results',
    'feature.personal_article_type': 'Your interest in this product type',
    'feature.personal_colour': 'Your interest in this colour',
    'feature.personal_gender': 'Your interest in this gender',
    'feature.personal_brand': 'Your interest in this brand',
    'feature.personal_strength': 'How much your profile counts',
    'attr.gender': 'Gender',
    'attr.colour': 'Colour',
    'attr.article_type': 'Product type',
    'attr.season': 'Season',
    'attr.usage': 'Usage',
    'attr.year': 'Year',
    'message.close': 'Close',
    'error.network': 'Could not reach the Tessera server. Check that it is running and reload the page.',
    'error.http': 'The request failed with HTTP status {status}.',
    'error.badJson': 'The server sent a response that is not valid JSON.',
    'error.shopperMissing': 'Enter a shopper ID first.',
    'error.audioDecode': 'Could not decode the audio: {detail}',
    'error.microphone': 'Could not start recording: {detail}',
  },
  'zh-CN': {
    'lang.label': '语言',
    'shopper.label': '购物者 ID',
    'shopper.hint': '匿名 ID。可用两个 ID 比较结果如何随购物者变化。',
    'health.ok': '{n} 件商品',
    'health.down': '服务器不可用',
    'search.placeholder': '搜索商品，例如“蓝色衬衫”',
    'search.photo': '图片',
    'search.photoHint': '以图搜索（也可以把图片拖到页面上）',
    'search.voiceFile': 'WAV 文件',
    'search.voiceFileHint': '用语音录音（WAV）搜索',
    'search.record': '录音',
    'search.stop': '停止（{s} 秒）',
    'search.recordUnavailable': '录音需要浏览器在 https 或 localhost 下获得麦克风权限。',
    'search.clear': '清除',
    'search.imageQuery': '正在以图搜索：{name}',
    'search.imageWordsQuery': '正在以图搜索：{name}，并按“{words}”细化',
    'search.refinePlaceholder': '用文字细化以图搜索，例如“红色”',
    'search.voiceQuery': '识别结果：“{text}”（置信度 {confidence}）',
    'search.voiceSilent': '录音中没有检测到语音。',
    'search.converting': '正在将音频转换为 WAV…',
    'filters.title': '筛选',
    'filters.clear': '清除',
    'filters.gender': '性别',
    'filters.colour': '颜色',
    'filters.category': '类别',
    'filters.price': '价格',
    'filters.priceMin': '最低',
    'filters.priceMax': '最高',
    'filters.any': '全部',
    'filters.priceInvalid': '最低价格不能高于最高价格。',
    'results.why': '排序原因',
    'results.summary': '{n} 个结果',
    'results.summaryOne': '1 个结果',
    'results.took': '{ms} 毫秒',
    'results.personalized': '已个性化',
    'results.loading': '正在搜索…',
    'results.none': '没有匹配的商品。请换个说法或减少筛选条件。',
    'results.start': '输入关键词、选择图片或录音即可开始搜索。',
    'why.score': '得分',
    'why.base': '基础得分',
    'why.boost': '个性化加权',
    'why.title': '排序原因',
    'why.open': '原因',
    'why.openLabel': '“{title}”为何出现在这里',
    'why.ranker': '由 {ranker} 排序模型排序。',
    'why.contributions': '排序模型考虑的因素',
    'why.contributionsHint': '每个特征对基础得分的贡献。偏置与各项贡献之和等于基础得分。',
    'why.bias': '偏置',
    'why.featureValue': '取值 {value}',
    'why.missingValue': '无取值',
    'why.unused': '另有 {n} 个特征没有贡献。',
    'why.unusedOne': '另有 1 个特征没有贡献。',
    'why.personal': '个性化加权',
    'why.facetBoost': '{facet}：{value}',
    'why.session': '本次浏览过的商品（相似度 {cosine}）',
    'why.noBoost': '没有个性化加权：该购物者还没有画像。',
    'why.missing': '该结果加载时没有附带解释。请重新搜索后查看。',
    'results.boosted': '为你推荐',
    'pager.label': '分页',
    'pager.prev': '上一页',
    'pager.next': '下一页',
    'pager.status': '第 {page} / {pages} 页',
    'detail.close': '关闭',
    'detail.addToCart': '加入购物车',
    'detail.added': '已加入购物车。',
    'detail.id': '商品 ID',
    'drop.hint': '拖入图片以图搜索，或拖入 WAV 文件用语音搜索',
    'drop.unsupported': '不支持的文件类型“{type}”。请拖入图片或 WAV 文件。',
    'profile.title': '我的画像',
    'profile.erase': '删除我的数据',
    'profile.eraseConfirm': '确定删除为“{user}”保存的所有事件和画像吗？',
    'profile.erased': '已删除“{user}”的数据。',
    'profile.events': '{user} 已记录 {n} 个事件。',
    'profile.eventsOne': '{user} 已记录 1 个事件。',
    'profile.empty': '{user} 还没有任何行为记录。查看商品或加入购物车即可生成画像。',
    'facet.article_type': '商品类型',
    'facet.colour': '颜色',
    'facet.gender': '性别',
    'facet.brand': '品牌',
    'facet.price_band': '价格区间',
    'facet.category': '类别',
    'feature.retrieval_score': '召回得分',
    'feature.bm25f': '所有字段的词匹配（BM25F）',
    'feature.bm25_title': '标题中的词匹配',
    'feature.bm25_brand': '品牌中的词匹配',
    'feature.bm25_category': '类别中的词匹配',
    'feature.bm25_attributes': '颜色、性别、用途或季节中的词匹配',
    'feature.bm25_description': '描述中的词匹配',
    'feature.bm25_photo_text': '图片文字中的词匹配',
    'feature.coverage': '匹配的查询词比例',
    'feature.words_dropped': '被舍弃的查询词',
    'feature.exact_match': '所有词按原样匹配',
    'feature.typo_edits': '拼写纠正',
    'feature.synonym_words': '通过同义词匹配的词',
    'feature.cosine_photo': '与查询图片的相似度',
    'feature.cosine_fused': '图文联合相似度',
    'feature.cosine_text': '文本相似度',
    'feature.cosine_joint_photo': '与商品图片的相似度',
    'feature.cosine_photo_text': '与图片文字的相似度',
    'feature.popularity': '热度',
    'feature.click_through': '点击率',
    'feature.price': '价格',
    'feature.price_band': '在同类商品中的价格位置',
    'feature.age_years': '上市年数',
    'feature.has_photo': '有图片',
    'feature.consensus_article_type': '与靠前结果相同的商品类型',
    'feature.consensus_sub_category': '与靠前结果相同的类目',
    'feature.consensus_colour': '与靠前结果相同的颜色',
    'feature.consensus_gender': '与靠前结果相同的性别',
    'feature.consensus_all': '与靠前结果相同的类型、颜色和性别',
    'feature.personal_article_type': '你对该商品类型的兴趣',
    'feature.personal_colour': '你对该颜色的兴趣',
    'feature.personal_gender': '你对该性别分类的兴趣',
    'feature.personal_brand': '你对该品牌的兴趣',
    'feature.personal_strength': '你的画像权重',
    'attr.gender': '性别',
    'attr.colour': '颜色',
    'attr.article_type': '商品类型',
    'attr.season': '季节',
    'attr.usage': '用途',
    'attr.year': '年份',
    'message.close': '关闭',
    'error.network': '无法连接 Tessera 服务器。请确认服务器正在运行，然后刷新页面。',
    'error.http': '请求失败，HTTP 状态码 {status}。',
    'error.badJson': '服务器返回的内容不是有效的 JSON。',
    'error.shopperMissing': '请先输入购物者 ID。',
    'error.audioDecode': '无法解码音频：{detail}',
    'error.microphone': '无法开始录音：{detail}',
  },
};

const SUPPORTED_LANGS = Object.keys(MESSAGES);

// Returns the UI string for `key` in the current language, with {name}
// placeholders replaced from `params`. Falls back to English, then to the key.
function t(key, params = {}) {
  const template = MESSAGES[state.lang]?.[key] ?? MESSAGES.en[key] ?? key;
  return template.replace(/\{(\w+)\}/g, (match, name) => (name in params ? String(params[name]) : match));
}

// ---------------------------------------------------------------------------
// Storage and state

function readStorage(key) {
  try {
    return window.localStorage.getItem(key);
  } catch {
    return null; // Storage is unavailable, for example when the browser blocks it.
  }
}

function writeStorage(key, value) {
  try {
    window.localStorage.setItem(key, value);
  } catch {
    // The choice then lasts only for this page load.
  }
}

function detectLanguage() {
  const stored = readStorage(STORAGE_KEYS.lang);
  if (SUPPORTED_LANGS.includes(stored)) return stored;
  const preferred = navigator.languages?.length ? navigator.languages : [navigator.language || 'en'];
  for (const tag of preferred) {
    if (/^zh\b/i.test(tag)) return 'zh-CN';
    if (/^en\b/i.test(tag)) return 'en';
  }
  return 'en';
}

const state = {
  lang: 'en',
  shopper: DEFAULT_SHOPPER,
  // 'text' searches with `query`, 'image' posts `image.blob`, 'none' shows the start hint.
  mode: 'none',
  query: '',
  prefix: false, // the last word of `query` may be unfinished (search as you type)
  image: null, // { blob, name, url } of the photo being searched with
  transcript: null, // transcript object of the last voice search
  page: 1,
  filters: { gender: '', colour: '', category: '', price_min: '', price_max: '' },
  response: null, // last successful search response
  searchFailed: false, // the last search returned an error, which the message area shows
  loading: false,
  showScores: false, // the "Why this result" score breakdown is visible
  detailProduct: null,
  profileChanged: false, // an event was accepted after the shown results were fetched
  whyProduct: null, // result shown in the "Why this result" panel
};

// ---------------------------------------------------------------------------
// DOM helpers

const $ = (id) => document.getElementById(id);

const dom = {};

function element(tag, className, text) {
  const node = document.createElement(tag);
  if (className) node.className = className;
  if (text !== undefined && text !== null) node.textContent = String(text);
  return node;
}

function debounce(fn, waitMs) {
  let timer = 0;
  const debounced = (...args) => {
    window.clearTimeout(timer);
    timer = window.setTimeout(() => fn(...args), waitMs);
  };
  debounced.cancel = () => window.clearTimeout(timer);
  return debounced;
}

function formatNumber(value, options) {
  return new Intl.NumberFormat(state.lang, options).format(value);
}

// Formats a price with its currency when the product has a valid ISO 4217 code.
function formatPrice(price, currency) {
  if (typeof price !== 'number' || !Number.isFinite(price)) return '';
  if (currency) {
    try {
      return new Intl.NumberFormat(state.lang, { style: 'currency', currency }).format(price);
    } catch {
      // An unknown currency code makes Intl throw a RangeError, so show it as text.
      return `${formatNumber(price)} ${currency}`;
    }
  }
  return formatNumber(price);
}

function formatScore(value) {
  if (typeof value !== 'number' || !Number.isFinite(value)) return '–';
  return formatNumber(value, { minimumFractionDigits: 3, maximumFractionDigits: 3 });
}

// ---------------------------------------------------------------------------
// API client

class ApiError extends Error {
  constructor(message, status, code) {
    super(message);
    this.name = 'ApiError';
    this.status = status;
    this.code = code;
  }
}

// The search-role API key that the server writes into the page when it requires
// keys (docs/api-security.md); empty when the server is open.
const SEARCH_KEY = document.querySelector('meta[name="tessera-search-key"]')?.content ?? '';

// Sends a request and returns the parsed JSON body. Throws ApiError with the
// server's error message for 4xx/5xx responses, and rethrows AbortError.
async function requestJson(path, { method = 'GET', body, contentType, signal } = {}) {
  const headers = { Accept: 'application/json' };
  if (contentType) headers['Content-Type'] = contentType;
  if (SEARCH_KEY) headers['X-Tessera-Key'] = SEARCH_KEY;

  let response;
  try {
    response = await fetch(path, { method, body, headers, signal });
  } catch (error) {
    if (error.name === 'AbortError') throw error;
    throw new ApiError(t('error.network'), 0, 'network');
  }

  const text = await response.text();
  let payload = null;
  if (text) {
    try {
      payload = JSON.parse(text);
    } catch {
      payload = null;
    }
  }

  if (!response.ok) {
    const message = payload?.error?.message || t('error.http', { status: response.status });
    throw new ApiError(message, response.status, payload?.error?.code);
  }
  if (payload === null) throw new ApiError(t('error.badJson'), response.status, 'bad_json');
  return payload;
}

function userPath(shopper) {
  return `/api/users/${encodeURIComponent(shopper)}`;
}

// Builds the query string shared by the three search endpoints.
function searchParams(extra = {}) {
  const params = new URLSearchParams();
  for (const [name, value] of Object.entries(extra)) params.set(name, value);
  params.set('user', state.shopper);
  for (const [name, value] of Object.entries(state.filters)) {
    if (value !== '') params.set(name, value);
  }
  params.set('page', String(state.page));
  params.set('per_page', String(PER_PAGE));
  // Explanations add about 1.8 KB of JSON per result (24 "shirt" results with the LambdaMART
  // ranker), so they are requested only while the panel's toggle is on.
  if (state.showScores) params.set('explain', 'true');
  return params;
}

// ---------------------------------------------------------------------------
// Messages

function showMessage(text, kind = 'error') {
  dom.messageText.textContent = text;
  dom.message.className = `message ${kind}`;
  dom.message.setAttribute('role', kind === 'error' ? 'alert' : 'status');
  dom.message.hidden = false;
}

function clearMessage() {
  dom.message.hidden = true;
  dom.messageText.textContent = '';
}

// Hides the message area when it shows an error, and keeps info notices such
// as "data erased" that a follow-up search would otherwise remove.
function clearErrorMessage() {
  if (dom.message.classList.contains('error')) clearMessage();
}

function reportError(error) {
  if (error?.name === 'AbortError') return;
  showMessage(error?.message || String(error), 'error');
}

// ---------------------------------------------------------------------------
// Searching

let activeSearch = null; // AbortController of the request whose results will be shown

function startRequest() {
  activeSearch?.abort();
  activeSearch = new AbortController();
  return activeSearch;
}

function setLoading(loading) {
  state.loading = loading;
  dom.content.classList.toggle('is-loading', loading);
  if (loading) dom.resultsSummary.textContent = t('results.loading');
}

// Applies a search response and renders it, unless a newer search replaced
// `controller` while this one was in flight.
function applySearchResponse(controller, response) {
  if (controller !== activeSearch) return;
  state.response = response;
  state.searchFailed = false;
  if (typeof response.page === 'number' && response.page >= 1) state.page = response.page;
  // The server explains an empty or cut-short result: a filter value no product has, or a
  // query that ran out of its time budget. Its text is shown as it comes.
  if (Array.isArray(response.warnings) && response.warnings.length > 0) {
    showMessage(response.warnings.join(' '), 'info');
  }
  renderFacets();
  renderResults();
}

// Clears the results of a failed search so that stale cards do not look like
// results of the new request, and shows the error's message.
function failSearch(error) {
  if (error?.name === 'AbortError') return;
  state.response = null;
  state.searchFailed = true;
  renderResults();
  reportError(error);
}

async function runSearch() {
  if (!state.shopper) {
    showMessage(t('error.shopperMissing'));
    return;
  }
  if (!validatePriceRange()) return;

  if (state.mode === 'none') {
    activeSearch?.abort();
    activeSearch = null;
    state.response = null;
    state.searchFailed = false;
    setLoading(false);
    renderResults();
    return;
  }

  const controller = startRequest();
  state.profileChanged = false;
  setLoading(true);
  try {
    let response;
    if (state.mode === 'image') {
      const words = state.query ? { q: state.query } : {};
      if (state.query && state.prefix) words.prefix = 'true';
      response = await requestJson(`/api/search/image?${searchParams(words)}`, {
        method: 'POST',
        body: state.image.blob,
        contentType: state.image.blob.type || 'application/octet-stream',
        signal: controller.signal,
      });
    } else {
      const extra = state.prefix ? { q: state.query, prefix: 'true' } : { q: state.query };
      response = await requestJson(`/api/search?${searchParams(extra)}`, {
        signal: controller.signal,
      });
    }
    if (controller === activeSearch) clearErrorMessage();
    applySearchResponse(controller, response);
  } catch (error) {
    if (controller === activeSearch) failSearch(error);
  } finally {
    if (controller === activeSearch) {
      setLoading(false);
      renderSummary();
    }
  }
}

function searchFromFirstPage() {
  state.page = 1;
  runSearch();
}

// `asYouType` marks a search started by typing: unless the text ends in a space, its last word
// may be unfinished, so the server also matches words it begins (prefix=true).
// While a photo is the query, the words refine it ("like this, but in red"): both go to the
// photo endpoint, and Clear drops the photo.
function startTextSearch(text, asYouType = false) {
  const query = text.trim();
  state.transcript = null;
  state.query = query;
  state.prefix = asYouType && !/\s$/.test(text);
  if (state.mode !== 'image' || !state.image) state.mode = query ? 'text' : 'none';
  renderQueryInfo();
  searchFromFirstPage();
}

const debouncedTextSearch = debounce(() => startTextSearch(dom.searchInput.value, true), SEARCH_DEBOUNCE_MS);

function revokeImage(image) {
  if (image?.url) URL.revokeObjectURL(image.url);
  return null;
}

function startImageSearch(file) {
  debouncedTextSearch.cancel();
  revokeImage(state.image);
  state.image = { blob: file, name: file.name || 'image', url: URL.createObjectURL(file) };
  state.transcript = null;
  state.query = '';
  state.mode = 'image';
  dom.searchInput.value = '';
  renderQueryInfo();
  searchFromFirstPage();
}

// Posts WAV bytes to the voice endpoint and shows its first page of results.
// Later pages and filter changes run a text search for the transcript, so the
// recognizer runs once per recording and the shopper can edit the words.
async function startVoiceSearch(wavBlob) {
  if (!state.shopper) {
    showMessage(t('error.shopperMissing'));
    return;
  }
  if (!validatePriceRange()) return;
  debouncedTextSearch.cancel();
  state.page = 1;

  const controller = startRequest();
  state.profileChanged = false;
  setLoading(true);
  try {
    const response = await requestJson(`/api/search/voice?${searchParams()}`, {
      method: 'POST',
      body: wavBlob,
      contentType: 'audio/wav',
      signal: controller.signal,
    });
    if (controller !== activeSearch) return;
    clearErrorMessage();

    state.image = revokeImage(state.image);
    const transcript = response.transcript ?? null;
    const text = typeof transcript?.text === 'string' ? transcript.text.trim() : '';
    state.transcript = transcript;
    state.query = text;
    state.prefix = false; // a transcript contains whole words
    state.mode = text ? 'text' : 'none';
    dom.searchInput.value = text;
    renderQueryInfo();
    applySearchResponse(controller, response);
  } catch (error) {
    if (controller === activeSearch) failSearch(error);
  } finally {
    if (controller === activeSearch) {
      setLoading(false);
      renderSummary();
    }
  }
}

function clearQuery() {
  debouncedTextSearch.cancel();
  dom.searchInput.value = '';
  state.image = revokeImage(state.image);
  state.mode = 'none';
  startTextSearch('');
}

// ---------------------------------------------------------------------------
// Filters

function readPriceInput(input) {
  const value = input.value.trim();
  if (value === '') return '';
  const number = Number(value);
  return Number.isFinite(number) && number >= 0 ? String(number) : '';
}

function validatePriceRange() {
  const { price_min: min, price_max: max } = state.filters;
  if (min !== '' && max !== '' && Number(min) > Number(max)) {
    showMessage(t('filters.priceInvalid'));
    return false;
  }
  return true;
}

const debouncedPriceChange = debounce(() => {
  state.filters.price_min = readPriceInput(dom.priceMin);
  state.filters.price_max = readPriceInput(dom.priceMax);
  if (validatePriceRange()) clearErrorMessage();
  searchFromFirstPage();
}, PRICE_DEBOUNCE_MS);

function clearFilters() {
  debouncedPriceChange.cancel();
  for (const name of Object.keys(state.filters)) state.filters[name] = '';
  dom.priceMin.value = '';
  dom.priceMax.value = '';
  renderFacets();
  searchFromFirstPage();
}

// Fills each filter select from the facets of the last response. The selected
// value stays listed even when the response no longer counts it.
function renderFacets() {
  const facets = state.response?.facets ?? {};
  for (const name of FILTER_NAMES) {
    const select = dom.filters[name];
    const counts = facets[name] ?? {};
    const selected = state.filters[name];
    const entries = Object.entries(counts).sort((a, b) => b[1] - a[1] || a[0].localeCompare(b[0]));
    if (selected && !(selected in counts)) entries.unshift([selected, null]);

    const options = [new Option(t('filters.any'), '')];
    for (const [value, count] of entries) {
      const label = count === null ? value : `${value} (${formatNumber(count)})`;
      options.push(new Option(label, value, false, value === selected));
    }
    select.replaceChildren(...options);
    select.value = selected;
    select.disabled = entries.length === 0;
  }
}

// ---------------------------------------------------------------------------
// Results

function totalPages() {
  const response = state.response;
  if (!response) return 0;
  const perPage = response.per_page > 0 ? response.per_page : PER_PAGE;
  return Math.max(1, Math.ceil((response.total ?? 0) / perPage));
}

function renderSummary() {
  const response = state.response;
  if (state.loading) return;
  if (!response || state.mode === 'none') {
    dom.resultsSummary.textContent = '';
    return;
  }
  const total = response.total ?? 0;
  const parts = [total === 1 ? t('results.summaryOne') : t('results.summary', { n: formatNumber(total) })];
  if (typeof response.took_ms === 'number') {
    parts.push(t('results.took', { ms: formatNumber(response.took_ms, { maximumFractionDigits: 1 }) }));
  }
  if (response.personalized) parts.push(t('results.personalized'));
  dom.resultsSummary.textContent = parts.join(' · ');
}

function renderResults() {
  const response = state.mode === 'none' ? null : state.response;
  const results = Array.isArray(response?.results) ? response.results : [];

  dom.grid.replaceChildren(...results.map(renderCard));
  dom.grid.classList.toggle('show-scores', state.showScores);

  if (!response) dom.emptyState.textContent = state.searchFailed ? '' : t('results.start');
  else if (results.length === 0) dom.emptyState.textContent = t('results.none');
  else dom.emptyState.textContent = '';
  dom.emptyState.hidden = dom.emptyState.textContent === '';

  const pages = totalPages();
  dom.pager.hidden = !response || pages <= 1;
  dom.pagePrev.disabled = state.page <= 1;
  dom.pageNext.disabled = state.page >= pages;
  dom.pageStatus.textContent = t('pager.status', { page: formatNumber(state.page), pages: formatNumber(pages) });

  renderSummary();
}

function renderMedia(product, className) {
  const media = element('div', className);
  const placeholder = element('div', 'placeholder', product.attributes?.article_type || product.title || '');
  placeholder.setAttribute('aria-hidden', 'true');
  if (product.image_url) {
    const image = element('img');
    image.src = product.image_url;
    image.alt = product.title || '';
    image.loading = 'lazy';
    image.decoding = 'async';
    image.addEventListener('error', () => image.replaceWith(placeholder), { once: true });
    media.append(image);
  } else {
    media.append(placeholder);
  }
  return media;
}

function productMeta(product) {
  const attributes = product.attributes ?? {};
  return [attributes.article_type, attributes.colour].filter(Boolean).join(' · ');
}

function renderWhy(product) {
  const list = element('dl', 'why-list');
  const rows = [
    ['why.score', product.score],
    ['why.base', product.base_score],
    ['why.boost', product.personal_boost],
  ];
  for (const [key, value] of rows) {
    const row = element('div', key === 'why.boost' && value > 0 ? 'boosted' : '');
    row.append(element('dt', '', t(key)), element('dd', '', formatScore(value)));
    list.append(row);
  }
  return list;
}

function renderCard(product) {
  const item = element('li', 'card');
  item.append(renderMedia(product, 'card-media'));

  const body = element('div', 'card-body');
  if (product.brand) body.append(element('p', 'card-brand', product.brand));

  // The button covers the whole card through CSS, so the card is one click
  // target and still reads as a single labelled control.
  const title = element('h3', 'card-title');
  const open = element('button', 'card-open', product.title || product.id);
  open.type = 'button';
  open.addEventListener('click', () => openDetail(product));
  title.append(open);
  body.append(title);

  const price = formatPrice(product.price, product.currency);
  if (price) body.append(element('p', 'card-price', price));
  const meta = productMeta(product);
  if (meta) body.append(element('p', 'card-meta', meta));
  if (product.personal_boost > 0) body.append(element('p', 'card-badge', t('results.boosted')));
  body.append(renderWhy(product));

  // Sits above the title button's overlay, so it opens the explanation and records no click.
  if (state.showScores) {
    const whyButton = element('button', 'card-why', t('why.open'));
    whyButton.type = 'button';
    whyButton.setAttribute('aria-label', t('why.openLabel', { title: product.title || product.id }));
    whyButton.addEventListener('click', () => openWhy(product));
    body.append(whyButton);
  }

  item.append(body);
  return item;
}

function goToPage(page) {
  const pages = totalPages();
  if (page < 1 || page > pages || page === state.page) return;
  state.page = page;
  runSearch();
  window.scrollTo({ top: 0, behavior: 'smooth' });
}

function renderQueryInfo() {
  let text = '';
  dom.queryImage.hidden = true;
  const imageMode = state.mode === 'image' && state.image;
  dom.searchInput.placeholder = t(imageMode ? 'search.refinePlaceholder' : 'search.placeholder');
  if (imageMode) {
    dom.queryImage.src = state.image.url;
    dom.queryImage.hidden = false;
    text = state.query
      ? t('search.imageWordsQuery', { name: state.image.name, words: state.query })
      : t('search.imageQuery', { name: state.image.name });
  } else if (state.transcript) {
    const transcript = state.transcript;
    if (transcript.silent || !transcript.text?.trim()) {
      text = t('search.voiceSilent');
    } else {
      const confidence = typeof transcript.confidence === 'number'
        ? formatNumber(transcript.confidence, { style: 'percent', maximumFractionDigits: 0 })
        : '–';
      text = t('search.voiceQuery', { text: transcript.text.trim(), confidence });
    }
  }
  dom.queryText.textContent = text;
  dom.queryInfo.hidden = text === '';
}

// ---------------------------------------------------------------------------
// "Why this result" panel, drawn from the `explain` object of explain=true

// Returns the UI label of `name` under `prefix` ("feature.", "facet."), or the
// name itself with spaces when the tables have none, e.g. for a feature a newer
// server added.
function labelFor(prefix, name) {
  const key = `${prefix}${name}`;
  const label = t(key);
  return label === key ? name.replace(/_/g, ' ') : label;
}

function formatContribution(value) {
  return formatNumber(value, { minimumFractionDigits: 3, maximumFractionDigits: 3, signDisplay: 'exceptZero' });
}

// One row of the panel: a label, an optional detail line, the signed amount and
// a bar scaled to `maxMagnitude`, green when it raises the score, red when it
// lowers it.
function renderContributionRow(label, detail, amount, maxMagnitude) {
  const item = element('li', amount < 0 ? 'negative' : 'positive');
  const text = element('span', 'contribution-label', label);
  if (detail) text.append(element('small', '', detail));
  const bar = element('span', 'contribution-bar');
  const fill = element('span', 'contribution-fill');
  fill.style.width = `${Math.round((Math.abs(amount) / maxMagnitude) * 100)}%`;
  bar.append(fill);
  item.append(text, bar, element('span', 'contribution-value', formatContribution(amount)));
  return item;
}

function featureValueText(value) {
  if (value === null || value === undefined) return t('why.missingValue');
  return t('why.featureValue', { value: formatNumber(value, { maximumFractionDigits: 3 }) });
}

// Lists the ranker's non-zero contributions, largest magnitude first, after its bias.
function renderContributions(explain) {
  const features = explain.features ?? {};
  const entries = Object.entries(explain.contributions ?? {})
    .filter(([, value]) => typeof value === 'number' && Number.isFinite(value));
  const used = entries.filter(([, value]) => value !== 0)
    .sort((a, b) => Math.abs(b[1]) - Math.abs(a[1]) || a[0].localeCompare(b[0]));
  const maxMagnitude = Math.max(...used.map(([, value]) => Math.abs(value)), Number.EPSILON);

  const rows = [];
  if (typeof explain.bias === 'number' && explain.bias !== 0) {
    rows.push(renderContributionRow(t('why.bias'), '', explain.bias, Math.max(maxMagnitude, Math.abs(explain.bias))));
  }
  for (const [name, value] of used) {
    rows.push(renderContributionRow(labelFor('feature.', name), featureValueText(features[name]), value, maxMagnitude));
  }
  dom.whyContributions.replaceChildren(...rows);

  const unused = entries.length - used.length;
  if (unused === 0) dom.whyUnused.textContent = '';
  else if (unused === 1) dom.whyUnused.textContent = t('why.unusedOne');
  else dom.whyUnused.textContent = t('why.unused', { n: formatNumber(unused) });
}

// Lists the shopper's boost per facet of the product and the session term, in the units of
// `personal_boost` so that the rows add up to it.
function renderPersonalBoost(product, explain) {
  const rawByFacet = Object.entries(explain.personal_boost_by_facet ?? {})
    .filter(([, value]) => typeof value === 'number' && Number.isFinite(value) && value !== 0);
  const session = typeof explain.personal_boost_session === 'number' ? explain.personal_boost_session : 0;

  // The API sends the facet terms before the ranker's personal scale is applied and the session
  // term after, so personal_boost = scale * (sum of facet terms) + session term.
  const facetSum = rawByFacet.reduce((total, [, value]) => total + value, 0);
  const facetScale = facetSum > 0 ? ((product.personal_boost ?? 0) - session) / facetSum : 1;
  const byFacet = rawByFacet.map(([facet, value]) => [facet, value * facetScale]);
  const amounts = [...byFacet.map(([, value]) => Math.abs(value)), Math.abs(session)];
  const maxMagnitude = Math.max(...amounts, Number.EPSILON);

  const rows = byFacet
    .sort((a, b) => Math.abs(b[1]) - Math.abs(a[1]) || a[0].localeCompare(b[0]))
    .map(([facet, value]) => {
      const productValue = facet === 'brand' ? product.brand : product.attributes?.[facet];
      const label = t('why.facetBoost', { facet: labelFor('facet.', facet), value: productValue ?? '–' });
      return renderContributionRow(label, '', value, maxMagnitude);
    });
  if (session !== 0) {
    const cosine = formatNumber(explain.session_cosine ?? 0, { maximumFractionDigits: 2 });
    rows.push(renderContributionRow(t('why.session', { cosine }), '', session, maxMagnitude));
  }
  dom.whyPersonal.replaceChildren(...rows);
  dom.whyPersonalEmpty.textContent = rows.length === 0 ? t('why.noBoost') : '';
}

function renderWhyPanel(product) {
  const explain = product.explain;
  dom.whyProduct.textContent = product.title || product.id;
  dom.whyTotals.replaceChildren(...renderWhy(product).children);
  if (!explain) {
    dom.whyRanker.textContent = t('why.missing');
    dom.whyContributions.replaceChildren();
    dom.whyUnused.textContent = '';
    dom.whyPersonal.replaceChildren();
    dom.whyPersonalEmpty.textContent = '';
    return;
  }
  dom.whyRanker.textContent = t('why.ranker', { ranker: explain.ranker || state.response?.ranker || '–' });
  renderContributions(explain);
  renderPersonalBoost(product, explain);
}

function openWhy(product) {
  state.whyProduct = product;
  renderWhyPanel(product);
  if (!dom.whyPanel.open) dom.whyPanel.showModal();
}

// ---------------------------------------------------------------------------
// Detail view and events

async function sendEvent(type, productId) {
  if (!state.shopper) {
    showMessage(t('error.shopperMissing'));
    return false;
  }
  try {
    await requestJson('/api/events', {
      method: 'POST',
      body: JSON.stringify({ user_id: state.shopper, type, product_id: productId }),
      contentType: 'application/json',
    });
    state.profileChanged = true;
    return true;
  } catch (error) {
    reportError(error);
    return false;
  } finally {
    refreshProfile();
  }
}

function renderDetail(product) {
  dom.detailMedia.replaceChildren(renderMedia(product, 'detail-image'));
  dom.detailBrand.textContent = product.brand || '';
  dom.detailTitle.textContent = product.title || product.id;
  dom.detailPrice.textContent = formatPrice(product.price, product.currency);
  dom.detailPath.textContent = Array.isArray(product.category_path) ? product.category_path.join(' › ') : '';

  const rows = [];
  for (const [name, value] of Object.entries(product.attributes ?? {})) {
    if (value === null || value === undefined || value === '') continue;
    const key = `attr.${name}`;
    const label = t(key) === key ? name.replace(/_/g, ' ') : t(key);
    rows.push([label, value]);
  }
  rows.push([t('detail.id'), product.id]);
  dom.detailAttributes.replaceChildren(...rows.map(([label, value]) => {
    const row = element('div');
    row.append(element('dt', '', label), element('dd', '', value));
    return row;
  }));

  dom.detailWhy.replaceChildren(...renderWhy(product).children);
  dom.detailWhy.hidden = !state.showScores;
}

function openDetail(product) {
  state.detailProduct = product;
  dom.cartStatus.textContent = '';
  dom.addToCart.disabled = false;
  renderDetail(product);
  if (!dom.detail.open) dom.detail.showModal();
  sendEvent('click', product.id);
}

async function addDetailProductToCart() {
  const product = state.detailProduct;
  if (!product) return;
  dom.addToCart.disabled = true;
  dom.cartStatus.textContent = '';
  const accepted = await sendEvent('add_to_cart', product.id);
  dom.addToCart.disabled = false;
  if (accepted) dom.cartStatus.textContent = t('detail.added');
}

// ---------------------------------------------------------------------------
// Profile

let profileRequest = null;
let lastProfile = null;

async function refreshProfile() {
  const shopper = state.shopper;
  profileRequest?.abort();
  if (!shopper) {
    lastProfile = null;
    renderProfile();
    return;
  }
  const controller = new AbortController();
  profileRequest = controller;
  try {
    const profile = await requestJson(`${userPath(shopper)}/profile`, { signal: controller.signal });
    if (controller !== profileRequest) return;
    lastProfile = profile;
  } catch (error) {
    if (controller !== profileRequest) return;
    // A shopper without events may have no stored profile, which is not an error here.
    if (error.status === 404) lastProfile = { user_id: shopper, events: 0, affinities: {} };
    else reportError(error);
  }
  renderProfile();
}

function renderProfile() {
  const profile = lastProfile;
  const user = state.shopper;
  const affinities = profile?.affinities ?? {};
  const facetNames = Object.keys(affinities)
    .filter((name) => Object.keys(affinities[name] ?? {}).length > 0)
    .sort((a, b) => rankFacet(a) - rankFacet(b) || a.localeCompare(b));

  const events = profile?.events ?? 0;
  if (!user) dom.profileSummary.textContent = t('error.shopperMissing');
  else if (events === 0 && facetNames.length === 0) dom.profileSummary.textContent = t('profile.empty', { user });
  else if (events === 1) dom.profileSummary.textContent = t('profile.eventsOne', { user });
  else dom.profileSummary.textContent = t('profile.events', { n: formatNumber(events), user });

  dom.profileAffinities.replaceChildren(...facetNames.map((name) => renderAffinityGroup(name, affinities[name])));
  dom.eraseData.disabled = !user;
}

function rankFacet(name) {
  const index = PROFILE_FACET_ORDER.indexOf(name);
  return index === -1 ? PROFILE_FACET_ORDER.length : index;
}

// Draws one bar per value, scaled to the largest absolute weight in the facet
// because the API does not bound affinity weights.
function renderAffinityGroup(name, weights) {
  const group = element('section', 'affinity-group');
  group.append(element('h3', '', labelFor('facet.', name)));

  const entries = Object.entries(weights)
    .filter(([, weight]) => typeof weight === 'number' && Number.isFinite(weight))
    .sort((a, b) => b[1] - a[1])
    .slice(0, PROFILE_TOP_VALUES);
  const maxWeight = Math.max(...entries.map(([, weight]) => Math.abs(weight)), Number.EPSILON);

  const list = element('ul', 'affinity-list');
  for (const [value, weight] of entries) {
    const item = element('li', weight < 0 ? 'negative' : '');
    item.append(element('span', 'affinity-label', value));
    const bar = element('span', 'affinity-bar');
    const fill = element('span', 'affinity-fill');
    fill.style.width = `${Math.round((Math.abs(weight) / maxWeight) * 100)}%`;
    bar.append(fill);
    item.append(bar, element('span', 'affinity-value', formatNumber(weight, { maximumFractionDigits: 2 })));
    item.title = `${value}: ${weight}`;
    list.append(item);
  }
  group.append(list);
  return group;
}

async function eraseShopperData() {
  const user = state.shopper;
  if (!user) {
    showMessage(t('error.shopperMissing'));
    return;
  }
  if (!window.confirm(t('profile.eraseConfirm', { user }))) return;
  try {
    await requestJson(userPath(user), { method: 'DELETE' });
    showMessage(t('profile.erased', { user }), 'info');
    await refreshProfile();
    if (state.mode !== 'none') runSearch();
  } catch (error) {
    reportError(error);
  }
}

// ---------------------------------------------------------------------------
// Audio: recording and WAV encoding

// Decodes any audio the browser can read and encodes it as 16-bit PCM mono WAV.
// decodeAudioData resamples to the context's rate, so an OfflineAudioContext
// at WAV_SAMPLE_RATE yields samples at that rate without playing anything.
async function convertToWav(blob) {
  const bytes = await blob.arrayBuffer();
  const context = new OfflineAudioContext(1, 1, WAV_SAMPLE_RATE);
  const decoded = await context.decodeAudioData(bytes);
  return encodeWav(mixToMono(decoded), decoded.sampleRate);
}

function mixToMono(buffer) {
  if (buffer.numberOfChannels === 1) return buffer.getChannelData(0);
  const mono = new Float32Array(buffer.length);
  for (let channel = 0; channel < buffer.numberOfChannels; channel++) {
    const data = buffer.getChannelData(channel);
    for (let i = 0; i < data.length; i++) mono[i] += data[i];
  }
  for (let i = 0; i < mono.length; i++) mono[i] /= buffer.numberOfChannels;
  return mono;
}

// Writes a canonical 44-byte RIFF header followed by little-endian samples.
function encodeWav(samples, sampleRate) {
  const bytesPerSample = 2;
  const dataSize = samples.length * bytesPerSample;
  const buffer = new ArrayBuffer(44 + dataSize);
  const view = new DataView(buffer);
  const writeAscii = (offset, text) => {
    for (let i = 0; i < text.length; i++) view.setUint8(offset + i, text.charCodeAt(i));
  };

  writeAscii(0, 'RIFF');
  view.setUint32(4, 36 + dataSize, true);
  writeAscii(8, 'WAVE');
  writeAscii(12, 'fmt ');
  view.setUint32(16, 16, true); // fmt chunk size for PCM
  view.setUint16(20, 1, true); // audio format 1 = integer PCM
  view.setUint16(22, 1, true); // channels
  view.setUint32(24, sampleRate, true);
  view.setUint32(28, sampleRate * bytesPerSample, true); // byte rate
  view.setUint16(32, bytesPerSample, true); // block align
  view.setUint16(34, 16, true); // bits per sample
  writeAscii(36, 'data');
  view.setUint32(40, dataSize, true);

  let offset = 44;
  for (let i = 0; i < samples.length; i++) {
    const clamped = Math.max(-1, Math.min(1, samples[i]));
    view.setInt16(offset, clamped < 0 ? clamped * 0x8000 : clamped * 0x7fff, true);
    offset += bytesPerSample;
  }
  return new Blob([buffer], { type: 'audio/wav' });
}

function isWavFile(file) {
  return /^audio\/(x-|vnd\.)?wave?$/i.test(file.type) || /\.wav$/i.test(file.name || '');
}

// Converts an audio file to 16-bit mono WAV at WAV_SAMPLE_RATE before the
// upload, so the server receives one format whatever the source. A WAV file
// the browser cannot decode is sent unchanged and the server validates it.
async function searchWithAudioFile(file) {
  showMessage(t('search.converting'), 'info');
  let wav;
  try {
    wav = await convertToWav(file);
  } catch (error) {
    if (!isWavFile(file)) {
      showMessage(t('error.audioDecode', { detail: error.message || error.name }));
      return;
    }
    wav = new Blob([file], { type: 'audio/wav' });
  }
  clearMessage();
  startVoiceSearch(wav);
}

const recorder = { media: null, stream: null, chunks: [], startedAt: 0, tickTimer: 0, stopTimer: 0 };

function recordingSupported() {
  return Boolean(window.isSecureContext && navigator.mediaDevices?.getUserMedia && window.MediaRecorder
    && window.OfflineAudioContext);
}

async function toggleRecording() {
  if (recorder.media?.state === 'recording') {
    recorder.media.stop();
    return;
  }
  let stream;
  try {
    // Echo cancellation, noise suppression and gain control, on by default for calls, distort
    // speech for the recognizer. Through Chromium 156's fake microphone, espeak-ng saying
    // "leather belt" was transcribed with a median confidence of 0.18 with them and 0.37 without
    // (3 recordings each, each sent 3 times).
    // NOTE: measured with synthetic speech only; a real microphone in a noisy room is untested.
    stream = await navigator.mediaDevices.getUserMedia({
      audio: { echoCancellation: false, noiseSuppression: false, autoGainControl: false },
    });
  } catch (error) {
    showMessage(t('error.microphone', { detail: error.message || error.name }));
    return;
  }

  let media;
  try {
    media = new MediaRecorder(stream);
  } catch (error) {
    stream.getTracks().forEach((track) => track.stop());
    showMessage(t('error.microphone', { detail: error.message || error.name }));
    return;
  }
  recorder.media = media;
  recorder.stream = stream;
  recorder.chunks = [];
  media.addEventListener('dataavailable', (event) => {
    if (event.data.size > 0) recorder.chunks.push(event.data);
  });
  media.addEventListener('stop', finishRecording, { once: true });
  media.start();

  recorder.startedAt = performance.now();
  recorder.tickTimer = window.setInterval(renderRecordButton, 250);
  recorder.stopTimer = window.setTimeout(() => {
    if (media.state === 'recording') media.stop();
  }, MAX_RECORDING_MS);
  clearMessage();
  renderRecordButton();
}

async function finishRecording() {
  window.clearInterval(recorder.tickTimer);
  window.clearTimeout(recorder.stopTimer);
  recorder.stream?.getTracks().forEach((track) => track.stop());
  const type = recorder.media?.mimeType || 'audio/webm';
  const recording = new Blob(recorder.chunks, { type });
  recorder.media = null;
  recorder.stream = null;
  recorder.chunks = [];
  renderRecordButton();

  if (recording.size === 0) {
    showMessage(t('search.voiceSilent'), 'info');
    return;
  }
  try {
    const wav = await convertToWav(recording);
    startVoiceSearch(wav);
  } catch (error) {
    showMessage(t('error.audioDecode', { detail: error.message || error.name }));
  }
}

function renderRecordButton() {
  const recording = recorder.media?.state === 'recording';
  dom.recordButton.classList.toggle('is-recording', recording);
  dom.recordButton.setAttribute('aria-pressed', String(recording));
  if (recording) {
    const seconds = Math.floor((performance.now() - recorder.startedAt) / 1000);
    dom.recordLabel.textContent = t('search.stop', { s: seconds });
  } else {
    dom.recordLabel.textContent = t('search.record');
  }
  if (!recordingSupported()) {
    dom.recordButton.disabled = true;
    dom.recordButton.title = t('search.recordUnavailable');
  }
}

// ---------------------------------------------------------------------------
// Drag and drop

function droppedFile(event) {
  return event.dataTransfer?.files?.[0] ?? null;
}

function hasFiles(event) {
  return Array.from(event.dataTransfer?.types ?? []).includes('Files');
}

function handleDroppedFile(file) {
  if (file.type.startsWith('image/')) startImageSearch(file);
  else if (file.type.startsWith('audio/') || isWavFile(file)) searchWithAudioFile(file);
  else showMessage(t('drop.unsupported', { type: file.type || file.name }));
}

function setupDropZone() {
  let depth = 0; // dragenter/dragleave also fire for child elements
  const zone = dom.content;

  zone.addEventListener('dragenter', (event) => {
    if (!hasFiles(event)) return;
    event.preventDefault();
    depth += 1;
    dom.dropOverlay.hidden = false;
  });
  zone.addEventListener('dragover', (event) => {
    if (!hasFiles(event)) return;
    event.preventDefault();
    event.dataTransfer.dropEffect = 'copy';
  });
  zone.addEventListener('dragleave', () => {
    depth = Math.max(0, depth - 1);
    if (depth === 0) dom.dropOverlay.hidden = true;
  });
  zone.addEventListener('drop', (event) => {
    event.preventDefault();
    depth = 0;
    dom.dropOverlay.hidden = true;
    const file = droppedFile(event);
    if (file) handleDroppedFile(file);
  });

  // A file dropped outside the zone would otherwise replace the page with the file.
  window.addEventListener('dragover', (event) => {
    if (hasFiles(event)) event.preventDefault();
  });
  window.addEventListener('drop', (event) => {
    if (hasFiles(event)) event.preventDefault();
  });
}

// ---------------------------------------------------------------------------
// Language, shopper and health

function applyLanguage(lang) {
  state.lang = SUPPORTED_LANGS.includes(lang) ? lang : 'en';
  document.documentElement.lang = state.lang;

  for (const node of document.querySelectorAll('[data-i18n]')) node.textContent = t(node.dataset.i18n);
  for (const node of document.querySelectorAll('[data-i18n-placeholder]')) {
    node.placeholder = t(node.dataset.i18nPlaceholder);
  }
  for (const node of document.querySelectorAll('[data-i18n-title]')) node.title = t(node.dataset.i18nTitle);
  for (const node of document.querySelectorAll('[data-i18n-aria-label]')) {
    node.setAttribute('aria-label', t(node.dataset.i18nAriaLabel));
  }
  for (const button of dom.langButtons) {
    button.setAttribute('aria-pressed', String(button.dataset.lang === state.lang));
  }

  renderRecordButton();
  renderQueryInfo();
  renderFacets();
  renderResults();
  renderProfile();
  renderHealth();
  if (state.detailProduct && dom.detail.open) renderDetail(state.detailProduct);
  if (state.whyProduct && dom.whyPanel.open) renderWhyPanel(state.whyProduct);
}

function setShopper(value) {
  const shopper = value.trim();
  if (shopper === state.shopper) return;
  state.shopper = shopper;
  if (shopper) writeStorage(STORAGE_KEYS.shopper, shopper);
  lastProfile = null;
  renderProfile();
  refreshProfile();
  // Results are personalized per shopper, so the same query is run again.
  if (shopper && state.mode !== 'none') runSearch();
}

const debouncedShopperChange = debounce(() => setShopper(dom.shopperInput.value), SHOPPER_DEBOUNCE_MS);

let health = null;

async function checkHealth() {
  try {
    health = await requestJson('/api/health');
  } catch {
    health = { status: 'down' };
  }
  renderHealth();
}

function renderHealth() {
  if (!health) {
    dom.healthStatus.textContent = '';
    return;
  }
  const ok = health.status === 'ok';
  dom.healthStatus.classList.toggle('down', !ok);
  dom.healthStatus.textContent = ok && typeof health.products === 'number'
    ? t('health.ok', { n: formatNumber(health.products) })
    : t('health.down');
}

// ---------------------------------------------------------------------------
// Start-up

function bindDom() {
  Object.assign(dom, {
    content: $('drop-zone'),
    healthStatus: $('health-status'),
    shopperInput: $('shopper-id'),
    langButtons: Array.from(document.querySelectorAll('[data-lang]')),
    searchForm: $('search-form'),
    searchInput: $('search-input'),
    photoInput: $('photo-input'),
    voiceInput: $('voice-input'),
    recordButton: $('record-button'),
    recordLabel: $('record-label'),
    queryInfo: $('query-info'),
    queryImage: $('query-image'),
    queryText: $('query-text'),
    clearQuery: $('clear-query'),
    message: $('message'),
    messageText: $('message-text'),
    messageClose: $('message-close'),
    resultsSummary: $('results-summary'),
    whyToggle: $('why-toggle'),
    grid: $('results-grid'),
    emptyState: $('empty-state'),
    pager: $('pager'),
    pagePrev: $('page-prev'),
    pageNext: $('page-next'),
    pageStatus: $('page-status'),
    dropOverlay: $('drop-overlay'),
    filters: {
      gender: $('filter-gender'),
      colour: $('filter-colour'),
      category: $('filter-category'),
    },
    priceMin: $('price-min'),
    priceMax: $('price-max'),
    clearFilters: $('clear-filters'),
    profileSummary: $('profile-summary'),
    profileAffinities: $('profile-affinities'),
    eraseData: $('erase-data'),
    detail: $('detail'),
    detailMedia: $('detail-media'),
    detailBrand: $('detail-brand'),
    detailTitle: $('detail-title'),
    detailPrice: $('detail-price'),
    detailPath: $('detail-path'),
    detailAttributes: $('detail-attributes'),
    detailWhy: $('detail-why'),
    addToCart: $('add-to-cart'),
    cartStatus: $('cart-status'),
    whyPanel: $('why-panel'),
    whyProduct: $('why-product'),
    whyRanker: $('why-ranker'),
    whyTotals: $('why-totals'),
    whyContributions: $('why-contributions'),
    whyUnused: $('why-unused'),
    whyPersonal: $('why-personal'),
    whyPersonalEmpty: $('why-personal-empty'),
  });
}

function bindEvents() {
  for (const button of dom.langButtons) {
    button.addEventListener('click', () => {
      writeStorage(STORAGE_KEYS.lang, button.dataset.lang);
      applyLanguage(button.dataset.lang);
    });
  }

  dom.shopperInput.addEventListener('input', debouncedShopperChange);
  dom.shopperInput.addEventListener('change', () => {
    debouncedShopperChange.cancel();
    setShopper(dom.shopperInput.value);
  });

  dom.searchInput.addEventListener('input', debouncedTextSearch);
  dom.searchForm.addEventListener('submit', (event) => {
    event.preventDefault();
    debouncedTextSearch.cancel();
    startTextSearch(dom.searchInput.value);
  });
  dom.clearQuery.addEventListener('click', clearQuery);

  dom.photoInput.addEventListener('change', () => {
    const file = dom.photoInput.files?.[0];
    dom.photoInput.value = ''; // lets the same file be chosen again
    if (file) startImageSearch(file);
  });
  dom.voiceInput.addEventListener('change', () => {
    const file = dom.voiceInput.files?.[0];
    dom.voiceInput.value = '';
    if (file) searchWithAudioFile(file);
  });
  dom.recordButton.addEventListener('click', toggleRecording);

  for (const name of FILTER_NAMES) {
    dom.filters[name].addEventListener('change', () => {
      state.filters[name] = dom.filters[name].value;
      searchFromFirstPage();
    });
  }
  dom.priceMin.addEventListener('input', debouncedPriceChange);
  dom.priceMax.addEventListener('input', debouncedPriceChange);
  dom.clearFilters.addEventListener('click', clearFilters);
  dom.eraseData.addEventListener('click', eraseShopperData);

  dom.whyToggle.addEventListener('change', () => {
    state.showScores = dom.whyToggle.checked;
    writeStorage(STORAGE_KEYS.showScores, state.showScores ? '1' : '0');
    dom.grid.classList.toggle('show-scores', state.showScores);
    dom.detailWhy.hidden = !state.showScores;
    // The shown results were fetched without explanations, so fetch them again with them.
    if (state.showScores && state.mode !== 'none') runSearch();
  });

  dom.pagePrev.addEventListener('click', () => goToPage(state.page - 1));
  dom.pageNext.addEventListener('click', () => goToPage(state.page + 1));
  dom.messageClose.addEventListener('click', clearMessage);

  dom.addToCart.addEventListener('click', addDetailProductToCart);
  dom.detail.addEventListener('click', (event) => {
    if (event.target === dom.detail) dom.detail.close(); // click on the backdrop
  });
  dom.detail.addEventListener('close', () => {
    state.detailProduct = null;
    // The shown ranking predates the events sent from the dialog. The server applies an event
    // before acknowledging it, so searching again shows the shopper's updated ranking.
    if (state.profileChanged && state.mode !== 'none') runSearch();
  });
  dom.whyPanel.addEventListener('click', (event) => {
    if (event.target === dom.whyPanel) dom.whyPanel.close();
  });
  dom.whyPanel.addEventListener('close', () => {
    state.whyProduct = null;
  });

  setupDropZone();
}

function start() {
  bindDom();

  state.lang = detectLanguage();
  state.shopper = (readStorage(STORAGE_KEYS.shopper) || DEFAULT_SHOPPER).trim() || DEFAULT_SHOPPER;
  state.showScores = readStorage(STORAGE_KEYS.showScores) === '1';
  dom.shopperInput.value = state.shopper;
  dom.whyToggle.checked = state.showScores;

  bindEvents();
  applyLanguage(state.lang);
  checkHealth();
  refreshProfile();
  dom.searchInput.focus();

  // A link such as /?q=blue+shirt opens with that search, so searches can be shared.
  const linkedQuery = new URLSearchParams(window.location.search).get('q');
  if (linkedQuery) {
    dom.searchInput.value = linkedQuery;
    startTextSearch(linkedQuery);
  }
}

start();
