import { ApiCode, type MessageKey } from './api-code.js';

export type Language = 'en-US' | 'zh-CN';

const MESSAGES: Readonly<Record<Language, Readonly<Record<MessageKey, string>>>> = {
  'en-US': {
    [ApiCode.Success]: 'success.',
    [ApiCode.RequestError]: 'Request error.',
    [ApiCode.InvalidParameter]: 'Verify parameters failed.',
    [ApiCode.InternalError]: 'Internal calling error.',
    [ApiCode.InsufficientSpace]: 'Insufficient space.',
    [ApiCode.TaskNotFound]: 'Upload task not found.',
    [ApiCode.UploadIncomplete]: 'File upload incomplete.',
    integrityFailed: 'File integrity verification failed.',
    [ApiCode.StatusChangeFailed]: 'Change file status failed.',
    [ApiCode.DuplicateFileName]: 'Duplicate file name.',
    [ApiCode.NoPermission]: 'No permission.',
    [ApiCode.InvalidToken]: 'Invalid access token.',
    [ApiCode.TooManyRequests]: 'Too many requests.',
  },
  'zh-CN': {
    [ApiCode.Success]: '成功。',
    [ApiCode.RequestError]: '请求错误。',
    [ApiCode.InvalidParameter]: '参数校验失败。',
    [ApiCode.InternalError]: '内部调用错误。',
    [ApiCode.InsufficientSpace]: '空间不足。',
    [ApiCode.TaskNotFound]: '上传任务不存在。',
    [ApiCode.UploadIncomplete]: '文件上传不完整。',
    integrityFailed: '文件完整性校验失败。',
    [ApiCode.StatusChangeFailed]: '修改文件状态失败。',
    [ApiCode.DuplicateFileName]: '文件名重复。',
    [ApiCode.NoPermission]: '没有权限。',
    [ApiCode.InvalidToken]: '访问令牌无效。',
    [ApiCode.TooManyRequests]: '请求过于频繁。',
  },
};

// `language` header: en-US / zh-CN, also en_us / zh_cn, any case; anything else is en-US.
export function parseLanguage(header: string | string[] | undefined): Language {
  const value = (Array.isArray(header) ? header[0] : header)?.trim().toLowerCase().replace('_', '-');
  return value === 'zh-cn' ? 'zh-CN' : 'en-US';
}

export function message(language: Language, key: MessageKey, detail?: string): string {
  const text = MESSAGES[language][key];
  return detail === undefined ? text : `${text} ${detail}`;
}
