/**
 * How a member of the `DatabaseError` union is made from its row of the table in `Errors.ts`: a
 * `Schema.TaggedError` whose traits are fixed literals, whose user message has the row's default,
 * with the fields every member shares, and with the behaviour every member shares on its prototype.
 *
 * @internal
 */
import * as Schema from "effect/Schema"
import type { DatabaseErrorCategory, DatabaseRecoveryAction } from "../../Errors.js"
import { summarizeCause } from "./safe.js"

/** What the table says of one member. */
export interface MemberDefinition {
  readonly category: DatabaseErrorCategory
  readonly isRetryable: boolean
  readonly recoveryAction: DatabaseRecoveryAction
  /** The `userMessage` when the constructor is given none. */
  readonly userMessage: string
}

/** One row of the members' table, its literal types kept. */
export const row = <
  const C extends DatabaseErrorCategory,
  const R extends boolean,
  const A extends DatabaseRecoveryAction,
  const M extends string
>(category: C, isRetryable: R, recoveryAction: A, userMessage: M) => ({ category, isRetryable, recoveryAction, userMessage })

/** A field that always holds `value` (the constructor fills it in, decoding checks it). */
const fixed = <const A extends string | boolean>(value: A) =>
  Schema.Literal(value).pipe(Schema.propertySignature, Schema.withConstructorDefault(() => value))

/** A string field that the constructor fills with `value` when it is not given. */
export const defaulted = (value: string) =>
  Schema.String.pipe(Schema.propertySignature, Schema.withConstructorDefault(() => value))

/** A field that is either absent or of `schema` (never `undefined`). */
export const optional = <S extends Schema.Schema.Any>(schema: S) => Schema.optionalWith(schema, { exact: true })

/** The fields of a member defined by `D`: its traits, its user message, then `Common`, then `Own`. */
type MemberFields<D extends MemberDefinition, Common extends Schema.Struct.Fields, Own extends Schema.Struct.Fields> =
  & {
    readonly category: ReturnType<typeof fixed<D["category"]>>
    readonly isRetryable: ReturnType<typeof fixed<D["isRetryable"]>>
    readonly recoveryAction: ReturnType<typeof fixed<D["recoveryAction"]>>
    readonly userMessage: ReturnType<typeof defaulted>
  }
  & Omit<Common, keyof Own>
  & Own

/**
 * What every member's prototype has: `message` is the technical message (logs and `Cause.pretty`
 * show it), the JSON form names the kind of `cause` instead of copying it (a cause may hold a
 * password, a row's values or megabytes of text, and may throw when read), and the type id.
 */
const prototypeOf = (typeId: symbol): PropertyDescriptorMap => ({
  message: {
    get(this: { readonly technicalMessage: string }) {
      return this.technicalMessage
    },
    enumerable: false,
    configurable: true
  },
  toJSON: {
    value(this: { readonly cause: unknown }) {
      return { ...this, cause: summarizeCause(this.cause) }
    },
    writable: true,
    configurable: true
  },
  [typeId]: { value: typeId }
})

/**
 * The maker of the members of `table`, each with the `common` fields, marked with `typeId`:
 * `class Deadlock extends Member<Deadlock>()("Deadlock") {}`. `own` adds fields, or replaces
 * common ones (a default technical message).
 */
export const memberFactory = <Table extends Record<string, MemberDefinition>, Common extends Schema.Struct.Fields>(
  table: Table,
  common: Common,
  typeId: symbol
) => {
  const prototype = prototypeOf(typeId)
  return <Self>() =>
  <Tag extends keyof Table & string, Own extends Schema.Struct.Fields = {}>(tag: Tag, own?: Own) => {
    const { category, isRetryable, recoveryAction, userMessage } = table[tag] as MemberDefinition
    const fields = {
      category: fixed(category),
      isRetryable: fixed(isRetryable),
      recoveryAction: fixed(recoveryAction),
      userMessage: defaulted(userMessage),
      ...common,
      ...own
    } as unknown as MemberFields<Table[Tag], Common, Own>
    const Class = Schema.TaggedError<Self>()(tag, fields)
    Object.defineProperties((Class as unknown as { prototype: object }).prototype, prototype)
    return Class
  }
}
