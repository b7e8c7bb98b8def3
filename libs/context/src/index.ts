export { contextOf, currentContext, openRequestContext, type RequestContext, runInContext } from './request-context.js';
