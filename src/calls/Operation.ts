// An asynchronous action on a leg (invite, mute, playPrompt, ...): a status and, at the end, a result.
import type { OperationKind, OperationStatus, ResultInfo } from './CallTypes.ts';

export class Operation {
  status: OperationStatus = 'running';
  resultInfo: ResultInfo | null = null;
  completionReason: string | null = null;
  /** Kind-specific fields rendered by the adapter (e.g. invited participants, recording location). */
  readonly details: Record<string, unknown> = {};

  constructor(
    readonly id: string,
    readonly kind: OperationKind,
    readonly clientContext: string | null,
  ) {}

  get done(): boolean {
    return this.status === 'completed' || this.status === 'failed';
  }
}
