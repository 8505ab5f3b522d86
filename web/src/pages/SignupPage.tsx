import { useMutation } from '@tanstack/react-query';
import { type FormEvent, useState } from 'react';
import { Link, useNavigate } from 'react-router';
import { api, unwrap } from '../api/client.ts';
import { useAuth } from '../auth.tsx';
import { Field, FormError } from '../components/ui.tsx';

const fields = ['name', 'email', 'password', 'merchantName'];

export default function SignupPage() {
  const { login } = useAuth();
  const navigate = useNavigate();
  const [form, setForm] = useState({ name: '', email: '', password: '', merchantName: '' });
  const set = (key: keyof typeof form) => (e: React.ChangeEvent<HTMLInputElement>) =>
    setForm({ ...form, [key]: e.target.value });
  const mutation = useMutation({
    mutationFn: async () => {
      unwrap(
        await api.POST('/api/users/signup', {
          body: {
            name: form.name,
            email: form.email,
            password: form.password,
            ...(form.merchantName ? { merchantName: form.merchantName } : {}),
          },
        }),
      );
      return unwrap(
        await api.POST('/api/auth/login', { body: { email: form.email, password: form.password } }),
      );
    },
    onSuccess: (result) => {
      login(result);
      navigate('/campaigns', { replace: true });
    },
  });
  const submit = (e: FormEvent) => {
    e.preventDefault();
    mutation.mutate();
  };
  return (
    <div className="auth-page">
      <form className="card auth-card" onSubmit={submit} noValidate>
        <h1>Create your SwipeSavvy account</h1>
        <Field label="Your name" field="name" error={mutation.error}>
          <input name="name" autoComplete="name" value={form.name} onChange={set('name')} />
        </Field>
        <Field label="Email" field="email" error={mutation.error}>
          <input name="email" type="email" autoComplete="email" value={form.email} onChange={set('email')} />
        </Field>
        <Field label="Password" field="password" error={mutation.error} hint="At least 8 characters">
          <input
            name="password"
            type="password"
            autoComplete="new-password"
            value={form.password}
            onChange={set('password')}
          />
        </Field>
        <Field label="Business name (optional)" field="merchantName" error={mutation.error}>
          <input name="merchantName" value={form.merchantName} onChange={set('merchantName')} />
        </Field>
        <FormError error={mutation.error} fields={fields} />
        <button type="submit" disabled={mutation.isPending}>
          {mutation.isPending ? 'Creating…' : 'Create account'}
        </button>
        <p className="muted">
          Already have an account? <Link to="/login">Sign in</Link>
        </p>
      </form>
    </div>
  );
}
