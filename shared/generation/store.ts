/**
 * The generations table as the workflow's functions know it: the repository under its older
 * name, so the steps that use it need not change (repository.ts).
 */
export {
  GenerationAlreadyFinishedError,
  GenerationNotFoundError,
  GenerationRepository as GenerationStore,
} from './repository.ts';
