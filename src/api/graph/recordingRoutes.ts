// Downloads of recordResponse recordings: GET recordingLocation with the recordingAccessToken.
import type { FastifyInstance } from 'fastify';
import { RecordingAccessError, type ResponseRecordings } from '../../media/ResponseRecordings.ts';
import { GraphError } from './GraphError.ts';

export function registerRecordingRoutes(http: FastifyInstance, recordings: ResponseRecordings): void {
  http.get('/recordings/responses/:id', async (req, reply) => {
    const { id } = req.params as { id: string };
    try {
      const bytes = await recordings.read(id, req.headers.authorization);
      return reply.type('application/octet-stream').header('content-length', bytes.length).send(Buffer.from(bytes.buffer, bytes.byteOffset, bytes.length));
    } catch (err) {
      if (err instanceof RecordingAccessError) {
        const code = err.status === 404 ? 'NotFound' : err.status === 403 ? 'Forbidden' : 'InvalidAuthenticationToken';
        throw new GraphError(err.status, code, err.message, err.status === 401 ? { 'www-authenticate': 'Bearer error="invalid_token"' } : {});
      }
      throw err;
    }
  });
}
