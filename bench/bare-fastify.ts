// node bench/bare-fastify.ts (env PORT): the memory floor, a bare Fastify process answering one
// route, with none of the service's modules loaded.
import Fastify from 'fastify';

const app = Fastify();
app.get('/readyz', () => ({ status: 'ok' }));
await app.listen({ port: Number(process.env.PORT ?? 3995), host: '127.0.0.1' });
process.once('SIGTERM', () => void app.close());
