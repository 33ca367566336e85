// Downloads of recordResponse recordings: GET recordingLocation with the recordingAccessToken.
// A single byte range is served (206), as media players and resumable downloads ask for one.
import type { FastifyInstance } from 'fastify';
import { RecordingAccessError, type ResponseRecordings } from '../../media/ResponseRecordings.ts';
import { parseRange } from '../http.ts';
import { GraphError } from './GraphError.ts';

export function registerRecordingRoutes(http: FastifyInstance, recordings: ResponseRecordings): void {
  http.get('/recordings/responses/:id', async (req, reply) => {
    const { id } = req.params as { id: string };
    let bytes: Uint8Array;
    try {
      bytes = await recordings.read(id, req.headers.authorization);
    } catch (err) {
      if (err instanceof RecordingAccessError) {
        const code = err.status === 404 ? 'NotFound' : err.status === 403 ? 'Forbidden' : 'InvalidAuthenticationToken';
        throw new GraphError(err.status, code, err.message, err.status === 401 ? { 'www-authenticate': 'Bearer error="invalid_token"' } : {});
      }
      throw err;
    }
    const size = bytes.length;
    const range = parseRange(req.headers.range, size);
    reply.type('application/octet-stream').header('accept-ranges', 'bytes');
    if (!range) return reply.header('content-length', size).send(Buffer.from(bytes.buffer, bytes.byteOffset, size));
    if (range.start >= size) {
      throw new GraphError(416, 'RequestedRangeNotSatisfiable', `The range starts at byte ${range.start}; the recording has ${size} bytes.`, { 'content-range': `bytes */${size}` });
    }
    const end = Math.min(range.end ?? size - 1, size - 1);
    return reply
      .status(206)
      .header('content-range', `bytes ${range.start}-${end}/${size}`)
      .header('content-length', end - range.start + 1)
      .send(Buffer.from(bytes.buffer, bytes.byteOffset + range.start, end - range.start + 1));
  });
}
