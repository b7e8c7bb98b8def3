// The page's own words, in English and Chinese (the browser's language decides); the service's
// messages come already localized (the `language` header).

const EN = {
  title: 'Upload to KooDrive',
  intro:
    'Files are hashed in your browser (SHA-256) and sent in parts; an interrupted upload goes on when you pick the same file again.',
  token: 'Access token',
  tokenHint: 'A KooDrive session token. It can also be given in the address: #token=…',
  via: 'Send parts',
  viaDefault: 'as the service decides',
  viaService: 'through the service (hash chain: nothing read back)',
  viaS3: 'straight to storage',
  choose: 'Choose files',
  drop: 'or drop files here',
  hashFirst:
    'Look for an identical file on the service first: hash the whole file before sending (always done up to 64 MiB; larger files are sent while they are hashed)',
  uploads: 'Uploads',
  unfinished: 'Unfinished uploads: pick the same file again to continue',
  unfinishedItem: (name: string, done: number, parts: number) => `${name}: ${done} of ${parts} parts sent`,
  cancel: (name: string) => `Cancel the upload of ${name}`,
  cancelLabel: 'Cancel',
  progress: (name: string) => `Upload of ${name}`,
  queued: 'waiting',
  hashing: (percent: number, rate: string) => `hashing ${percent} %${rate}`,
  sending: (sent: string, size: string, rate: string, eta: string, parts: string) =>
    `sending ${sent} of ${size}${rate}${eta} · ${parts}`,
  parts: (done: number, total: number) => `${done} of ${total} parts`,
  resumed: (count: number) => ` (${count} sent before)`,
  left: (time: string) => ` · ${time} left`,
  completing: 'completing…',
  done: 'done',
  rapid: 'already stored: nothing sent',
  cancelled: 'cancelled',
  failed: 'failed',
  noToken: 'Enter an access token first.',
  error: 'error',
} as const;

type Words = { readonly [K in keyof typeof EN]: (typeof EN)[K] extends string ? string : (typeof EN)[K] };

const ZH: Words = {
  title: '上传到 KooDrive',
  intro: '文件在浏览器中计算 SHA-256 并分片上传；上传中断后，再次选择同一文件即可继续。',
  token: '访问令牌',
  tokenHint: 'KooDrive 会话令牌，也可以写在地址中：#token=…',
  via: '分片发送方式',
  viaDefault: '由服务决定',
  viaService: '经由服务（哈希链：无需回读）',
  viaS3: '直接发送到存储',
  choose: '选择文件',
  drop: '或将文件拖放到这里',
  hashFirst:
    '先查找服务端是否已有相同文件：发送前先计算整个文件的哈希（64 MiB 以内总是如此；更大的文件边计算哈希边发送）',
  uploads: '上传',
  unfinished: '未完成的上传：再次选择同一文件即可继续',
  unfinishedItem: (name, done, parts) => `${name}：已发送 ${done}/${parts} 个分片`,
  cancel: (name) => `取消上传 ${name}`,
  cancelLabel: '取消',
  progress: (name) => `${name} 的上传进度`,
  queued: '等待中',
  hashing: (percent, rate) => `计算哈希 ${percent} %${rate}`,
  sending: (sent, size, rate, eta, parts) => `已发送 ${sent} / ${size}${rate}${eta} · ${parts}`,
  parts: (done, total) => `${done}/${total} 个分片`,
  resumed: (count) => `（之前已发送 ${count} 个）`,
  left: (time) => ` · 剩余 ${time}`,
  completing: '正在完成…',
  done: '完成',
  rapid: '服务端已有此文件：无需发送',
  cancelled: '已取消',
  failed: '失败',
  noToken: '请先输入访问令牌。',
  error: '错误',
};

export function wordsFor(language: string): Words {
  return language === 'zh-CN' ? ZH : EN;
}

export type { Words };
