import Type, { type Static } from 'typebox';
import { Timestamp, Uuid } from '../../platform/schemas.ts';
import { Roles } from '../auth/auth.plugin.ts';

export const Email = Type.String({ format: 'email', maxLength: 254 });
export const Password = Type.String({ minLength: 8, maxLength: 200 });
export const Role = Type.Enum(Roles);
export const Settings = Type.Record(Type.String({ maxLength: 100 }), Type.Unknown(), {
  maxProperties: 100,
  description: 'Free-form user preferences; PUT merges the given keys, null deletes a key',
});

export const User = Type.Object({
  id: Uuid,
  email: Type.String(),
  name: Type.String(),
  role: Role,
  merchantId: Uuid,
  settings: Settings,
  createdAt: Timestamp,
  updatedAt: Timestamp,
  lastLoginAt: Type.Union([Timestamp, Type.Null()]),
});
export type User = Static<typeof User>;

export const SignupBody = Type.Object(
  {
    email: Email,
    password: Password,
    name: Type.String({ minLength: 1, maxLength: 200 }),
    merchantName: Type.Optional(Type.String({ minLength: 1, maxLength: 200 })),
    merchantCategory: Type.Optional(Type.String({ minLength: 1, maxLength: 60 })),
    merchantCity: Type.Optional(Type.String({ minLength: 1, maxLength: 100 })),
  },
  { additionalProperties: false },
);
export type SignupBody = Static<typeof SignupBody>;

export const SignupResponse = Type.Intersect([
  User,
  Type.Object({
    welcomeEmail: Type.Object({ notificationId: Uuid, status: Type.String() }),
  }),
]);

export const LoginBody = Type.Object({
  email: Email,
  password: Type.String({ minLength: 1, maxLength: 200 }),
});
export type LoginBody = Static<typeof LoginBody>;

export const LoginResponse = Type.Object({
  token: Type.String(),
  tokenType: Type.Literal('Bearer'),
  expiresIn: Type.Integer({ description: 'seconds' }),
  user: User,
});

export const CreateUserBody = Type.Object(
  {
    email: Email,
    password: Password,
    name: Type.String({ minLength: 1, maxLength: 200 }),
    role: Role,
  },
  { additionalProperties: false },
);
export type CreateUserBody = Static<typeof CreateUserBody>;

export const RoleBody = Type.Object({ role: Role }, { additionalProperties: false });

export const SettingsResponse = Type.Object({ settings: Settings });
export const UserList = Type.Object({ items: Type.Array(User) });
